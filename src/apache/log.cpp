#include "apache/log.hpp"

#include "common/text.hpp"

namespace wsgi::apache {
namespace {

server_rec* g_main_server = nullptr;

void emit(int level, request_rec* r, server_rec* s, const std::string& text) {
    std::string escaped = common::escape_log_text(text);
    if (r != nullptr) {
        ap_log_rerror(APLOG_MARK, level, 0, r, "%s", escaped.c_str());
    } else {
        ap_log_error(APLOG_MARK, level, 0, s != nullptr ? s : g_main_server, "%s",
                     escaped.c_str());
    }
}

}  // namespace

void log_lines(int level, request_rec* r, server_rec* s, const std::string& headline,
               const std::vector<std::string>& lines) {
    emit(level, r, s, headline);
    for (const auto& line : lines) {
        emit(level, r, s, line);
    }
}

void log_line(int level, request_rec* r, server_rec* s, const std::string& message) {
    emit(level, r, s, message);
}

void set_main_server(server_rec* s) { g_main_server = s; }

server_rec* main_server() { return g_main_server; }

}  // namespace wsgi::apache
