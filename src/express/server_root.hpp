#pragma once

// Writing a server root: the directory, httpd.conf, apachectl, envvars, htdocs/ and the Python
// helpers. Throws UsageError for a server root that is not ours or already serving.

#include "express/options.hpp"

namespace express {

void write_server_root(const Plan& plan);

// The pid in the server root's pid file when that process is alive, else 0.
int running_server_pid(const Plan& plan);

}  // namespace express
