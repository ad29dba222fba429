#include "common/http_validate.hpp"

#include "common/text.hpp"

#include <limits>

namespace wsgi::common {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

// RFC 9110 section 5.6.2: tchar.
bool is_token_char(unsigned char c) {
    if (c >= 'a' && c <= 'z') {
        return true;
    }
    if (c >= 'A' && c <= 'Z') {
        return true;
    }
    if (is_digit(static_cast<char>(c))) {
        return true;
    }
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '.': case '^': case '_': case '`': case '|': case '~':
            return true;
        default:
            return false;
    }
}

}  // namespace

std::optional<std::string> check_status_line(std::string_view status) {
    if (status.size() < 3 || !is_digit(status[0]) || !is_digit(status[1]) ||
        !is_digit(status[2]) || (status.size() > 3 && is_digit(status[3]))) {
        return "status code is not a 3 digit integer";
    }
    if (status.size() == 3 || status[3] != ' ') {
        return "no space following status code";
    }
    const int code = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
    if (code < 100 || code > 599) {
        return "status code out of range 100-599";
    }
    if (code < 200) {
        return "1xx status code is an interim response only the server may send";
    }
    for (unsigned char c : status.substr(4)) {
        if (is_control(c)) {
            return "control character present in reason phrase";
        }
    }
    return std::nullopt;
}

bool is_hop_by_hop_header(std::string_view name) {
    static constexpr std::string_view kNames[] = {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "trailers", "transfer-encoding", "upgrade"};
    for (auto hop : kNames) {
        if (iequals(name, hop)) {
            return true;
        }
    }
    return false;
}

std::optional<std::string> check_header_name(std::string_view name) {
    if (name.empty()) {
        return "header name is empty";
    }
    for (unsigned char c : name) {
        if (c == ' ') {
            return "space character present in header name";
        }
        if (is_control(c)) {
            return "control character present in header name";
        }
        if (!is_token_char(c)) {
            return "invalid character present in header name";
        }
    }
    return std::nullopt;
}

std::optional<std::string> check_header_value(std::string_view value) {
    for (char c : value) {
        if (c == '\r' || c == '\n') {
            return "carriage return/line feed character present in header value";
        }
        if (c == '\0') {
            return "null character present in header value";
        }
    }
    return std::nullopt;
}

bool is_environ_header_name(std::string_view name) {
    if (name.empty()) {
        return false;
    }
    for (unsigned char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

std::string environ_key_for_header(std::string_view name) {
    auto upper = [](std::string_view in, std::string& out) {
        for (char c : in) {
            if (c == '-') {
                out.push_back('_');
            } else if (c >= 'a' && c <= 'z') {
                out.push_back(static_cast<char>(c - 'a' + 'A'));
            } else {
                out.push_back(c);
            }
        }
    };
    std::string key;
    key.reserve(name.size() + 5);
    upper(name, key);
    if (key == "CONTENT_TYPE" || key == "CONTENT_LENGTH") {
        return key;
    }
    key.insert(0, "HTTP_");
    return key;
}

std::optional<std::int64_t> parse_content_length(std::string_view value) {
    if (value.empty()) {
        return std::nullopt;
    }
    std::int64_t result = 0;
    for (char c : value) {
        if (!is_digit(c)) {
            return std::nullopt;
        }
        int digit = c - '0';
        if (result > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
            return std::nullopt;
        }
        result = result * 10 + digit;
    }
    return result;
}

}  // namespace wsgi::common
