// Quoting for the generated files.

#include "express/conf_text.hpp"

#include <string_view>

namespace express {

std::string quote(const std::string& text) { return "\"" + text + "\""; }

std::string regex_literal(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) {
            out += '\\';
        }
        out += c;
    }
    return out;
}

std::string rewrite_literal(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '$' || c == '%') {
            out += '\\';
        }
        out += c;
    }
    return out;
}

std::string quote_escaped(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '\\' || c == '"') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& word : words) {
        out += (out.empty() ? "" : " ") + word;
    }
    return out;
}

std::string shell_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

std::string python_string(const std::string& text) {
    // A Python string literal escapes the same two characters as a quoted Apache argument.
    return quote_escaped(text);
}

std::string listen_address(const std::string& host, int port) {
    if (host.empty()) {
        return std::to_string(port);
    }
    bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace express
