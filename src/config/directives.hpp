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

// Logs a warning for each directive of the main server `s` that is accepted but ignored
// (WSGILazyInitialization Off, WSGI0021; WSGINewRelicConfigFile and WSGINewRelicEnvironment,
// WSGI0022; WSGIVerboseDebugging On, WSGI0023 at info level). Call from post_config: the
// error log is open then.
// The directive handlers themselves warn only on httpd's first reading of the
// configuration, the one whose messages reach the console (and `apache2 -t`).
void log_ignored_directives(server_rec* s) noexcept;

}  // namespace wsgi::config
