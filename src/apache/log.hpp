#pragma once
// The one logging header of the module: httpd's ap_log_error / ap_log_rerror (printf format
// checked by httpd's own attributes) tagged with this module, so lines show as [wsgi:level].
// Messages at WARN and above start with a stable code "WSGInnnn: " listed in
// docs/error-codes.md. Logging may block on the log file: call these without the GIL.

#include <httpd.h>
#include <http_log.h>

#include <string>
#include <vector>

APLOG_USE_MODULE(wsgi);

namespace wsgi::apache {

// Logs `headline` then each of `lines` (e.g. a Python traceback) at `level`, against the
// request when `r` is not null, else against `s` (the main server when both are null). Each
// line is escaped so that it cannot forge other log lines. Without the GIL.
void log_lines(int level, request_rec* r, server_rec* s, const std::string& headline,
               const std::vector<std::string>& lines);

// Logs one already-formatted message line (escaped), like log_lines without extra lines.
void log_line(int level, request_rec* r, server_rec* s, const std::string& message);

// The main server, remembered at post_config so that code without a request can log.
void set_main_server(server_rec* s);
server_rec* main_server();

}  // namespace wsgi::apache
