#pragma once
// Validation of what a WSGI application hands to start_response, and of request header names
// before they become environ keys. Pure: no httpd, no Python; callable from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wsgi::common {

// Checks a WSGI status line: three digits, one space, a reason phrase without control
// characters (PEP 3333 "The start_response() Callable"; mod_wsgi's wsgi_validate.c messages),
// and a final status, 200 to 599: HTTP has no codes outside 100-599 (RFC 9110 15), and a 1xx
// is an interim response that only the server may send (PEP 3333 "Other HTTP Features"; sent
// as the application's response it would split the response stream). Returns the error
// message for a ValueError, or nullopt when the status is valid.
std::optional<std::string> check_status_line(std::string_view status);

// True for a hop-by-hop header (RFC 9110 7.6.1; PEP 3333 "Other HTTP Features"), which an
// application may not send: Apache owns the connection and the transfer coding.
bool is_hop_by_hop_header(std::string_view name);

// Checks a response header name: a non-empty RFC 9110 token (no space, control character,
// separator or ':'). Returns the error message, or nullopt.
std::optional<std::string> check_header_name(std::string_view name);

// Checks a response header value: no CR, LF or NUL, so it can never split the header block.
// Returns the error message, or nullopt.
std::optional<std::string> check_header_value(std::string_view value);

// True for a request header name that may become an HTTP_* environ key: only ASCII letters,
// digits and '-'. Names with '_' or '.' are dropped so that `X_Forwarded_For` cannot shadow
// `X-Forwarded-For` (mod_wsgi 4.3.0, Apache 2.4 CGI rule).
bool is_environ_header_name(std::string_view name);

// Builds the environ key of a request header: "HTTP_" + upper-cased name with '-' as '_'.
// Content-Type and Content-Length map to CONTENT_TYPE and CONTENT_LENGTH (CGI, RFC 3875 4.1).
std::string environ_key_for_header(std::string_view name);

// Parses a Content-Length value: one or more ASCII digits only (no sign, space or hex), not
// overflowing int64. Returns nullopt for anything else.
std::optional<std::int64_t> parse_content_length(std::string_view value);

}  // namespace wsgi::common
