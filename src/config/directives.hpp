#pragma once
// The WSGI* directive table (mod_wsgi docs, "Configuration Directives"). Every handler is
// noexcept and returns an error string naming the directive, which httpd prints as
// "Syntax error on line N of FILE: ..." and `apache2 -t` fails with.

#include <httpd.h>
// clang-format off
#include <http_config.h>
// clang-format on

namespace wsgi::config {

// The directive table for the module record, terminated by an empty entry.
extern const command_rec kDirectives[];

}  // namespace wsgi::config
