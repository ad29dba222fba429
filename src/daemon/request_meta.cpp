#include "daemon/request_meta.hpp"

#include <charconv>
#include <map>

namespace wsgi::daemon {
namespace {

const char* flag(bool value) { return value ? "1" : "0"; }

template <class Number>
bool parse_number(const std::string& text, Number& value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

protocol::Pairs encode_meta(const DaemonRequest& request) {
    const auto& s = request.settings;
    return {
        {"script_filename", s.script_filename},
        {"script_name", s.script_name},
        {"path_info", s.path_info},
        {"application_group", s.application_group},
        {"process_group", s.process_group},
        {"callable_object", s.callable_object},
        {"enable_sendfile", flag(s.enable_sendfile)},
        {"script_reloading", flag(s.script_reloading)},
        {"ignore_activity", flag(s.ignore_activity)},
        {"module_name", request.module_name},
        {"script_mtime", std::to_string(request.script_mtime)},
        {"head_only", flag(request.head_only)},
        {"https", flag(request.https)},
        {"body_within_content_length", flag(request.body_within_content_length)},
        {"request_start_us", std::to_string(static_cast<std::int64_t>(request.request_start * 1e6))},
        {"queue_start_us", std::to_string(static_cast<std::int64_t>(request.queue_start * 1e6))},
        {"client", request.client},
        {"secret", request.secret},
        {"server_index", std::to_string(request.server_index)},
        {"server_pid", std::to_string(request.server_pid)},
        {"config_generation", std::to_string(request.config_generation)},
    };
}

bool decode_meta(const protocol::Pairs& meta, DaemonRequest& request, std::string& error) {
    std::map<std::string, const std::string*> values;
    for (const auto& [key, value] : meta) {
        values[key] = &value;
    }
    auto text = [&](const char* key, std::string& out) {
        auto it = values.find(key);
        if (it == values.end()) {
            error = std::string("request frame lacks '") + key + "'";
            return false;
        }
        out = *it->second;
        return true;
    };
    auto boolean = [&](const char* key, bool& out) {
        std::string value;
        if (!text(key, value)) {
            return false;
        }
        if (value != "0" && value != "1") {
            error = std::string("request frame has a bad '") + key + "'";
            return false;
        }
        out = value == "1";
        return true;
    };
    auto integer = [&](const char* key, std::int64_t& out) {
        std::string value;
        if (!text(key, value)) {
            return false;
        }
        if (!parse_number(value, out)) {
            error = std::string("request frame has a bad '") + key + "'";
            return false;
        }
        return true;
    };
    auto& s = request.settings;
    std::int64_t start_us = 0;
    std::int64_t queue_us = 0;
    if (!text("script_filename", s.script_filename) || !text("script_name", s.script_name) ||
        !text("path_info", s.path_info) || !text("application_group", s.application_group) ||
        !text("process_group", s.process_group) ||
        !text("callable_object", s.callable_object) ||
        !boolean("enable_sendfile", s.enable_sendfile) ||
        !boolean("script_reloading", s.script_reloading) ||
        // Optional: an Apache child of the generation before a graceful restart that brought
        // a newer module may not send it (false then).
        (values.count("ignore_activity") != 0 && !boolean("ignore_activity", s.ignore_activity)) ||
        !text("module_name", request.module_name) ||
        !integer("script_mtime", request.script_mtime) ||
        !boolean("head_only", request.head_only) || !boolean("https", request.https) ||
        !boolean("body_within_content_length", request.body_within_content_length) ||
        !integer("request_start_us", start_us) || !integer("queue_start_us", queue_us) ||
        !text("client", request.client) ||
        !text("secret", request.secret)) {
        return false;
    }
    // An empty callable name is the application's choice (a dispatch script's '', which the
    // script then lacks: WSGI0006); a request without a script or module is not.
    if (s.script_filename.empty() || request.module_name.empty()) {
        error = "request frame names no script or module";
        return false;
    }
    // Optional, as ignore_activity.
    std::int64_t server_index = -1;
    if (values.count("server_index") != 0 && !integer("server_index", server_index)) {
        return false;
    }
    std::int64_t generation = -1;
    if (values.count("config_generation") != 0 && !integer("config_generation", generation)) {
        return false;
    }
    request.config_generation = generation >= 0 && generation <= 0x7fffffff
                                    ? static_cast<long>(generation)
                                    : -1;
    std::int64_t server_pid = 0;
    if (values.count("server_pid") != 0 && !integer("server_pid", server_pid)) {
        return false;
    }
    request.server_pid = server_pid > 0 && server_pid <= 0x7fffffff ? static_cast<long>(server_pid)
                                                                    : 0;
    request.server_index = server_index >= 0 && server_index <= 1000000
                               ? static_cast<int>(server_index)
                               : -1;
    request.request_start = static_cast<double>(start_us) / 1e6;
    request.queue_start = static_cast<double>(queue_us) / 1e6;
    return true;
}

}  // namespace wsgi::daemon
