#pragma once
// Small text helpers shared by the layers. Pure: no httpd, no Python.

#include <string>
#include <string_view>
#include <vector>

namespace wsgi::common {

// Escapes what could forge or garble an error-log line: control characters (other than TAB)
// and backslash become "\xNN" / "\\". Input is taken as raw bytes.
std::string escape_log_text(std::string_view text);

// Splits a colon-separated path list (WSGIPythonPath, python-path=) into its non-empty
// elements, in order.
std::vector<std::string> split_path_list(std::string_view list);

// The lines of `text`, split at '\n' (a final newline ends the last line rather than starting
// an empty one), for logging each as an error-log entry of its own.
std::vector<std::string> split_lines(std::string_view text);

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

}  // namespace wsgi::common
