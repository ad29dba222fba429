#include "config/options.hpp"

#include "common/text.hpp"

namespace wsgi::config {
namespace {

using common::iequals;

std::string server_with_port(const RequestIdentity& identity) {
    std::string name(identity.server_hostname);
    if (identity.port != 80 && identity.port != 443) {
        name += ':';
        name += std::to_string(identity.port);
    }
    return name;
}

// Returns NAME for "%{ENV:NAME}", nullopt otherwise.
std::optional<std::string_view> env_variable_name(std::string_view spec) {
    constexpr std::string_view kPrefix = "%{ENV:";
    if (spec.size() > kPrefix.size() + 1 && spec.starts_with(kPrefix) && spec.ends_with('}')) {
        return spec.substr(kPrefix.size(), spec.size() - kPrefix.size() - 1);
    }
    return std::nullopt;
}

std::string expand_group(std::string_view spec, const RequestIdentity& identity,
                         const EnvLookup& lookup) {
    if (spec == "%{GLOBAL}") {
        return "";
    }
    if (spec == "%{SERVER}") {
        return server_with_port(identity);
    }
    if (spec == "%{RESOURCE}") {
        return server_with_port(identity) + "|" + std::string(identity.script_name);
    }
    if (auto name = env_variable_name(spec)) {
        if (auto value = lookup(*name)) {
            return *value;
        }
    }
    return std::string(spec);
}

}  // namespace

std::optional<MapHeadToGet> parse_map_head_to_get(std::string_view value) {
    if (iequals(value, "Off")) {
        return MapHeadToGet::kOff;
    }
    if (iequals(value, "On")) {
        return MapHeadToGet::kOn;
    }
    if (iequals(value, "Auto")) {
        return MapHeadToGet::kAuto;
    }
    return std::nullopt;
}

std::optional<bool> parse_on_off(std::string_view value) {
    if (iequals(value, "On")) {
        return true;
    }
    if (iequals(value, "Off")) {
        return false;
    }
    return std::nullopt;
}

std::optional<std::string> parse_script_alias_option(std::string_view word,
                                                     ScriptAliasOptions& options) {
    auto equals = word.find('=');
    if (equals == std::string_view::npos) {
        return "Invalid option '" + std::string(word) + "': expected name=value";
    }
    auto name = word.substr(0, equals);
    auto value = word.substr(equals + 1);
    if (value.empty()) {
        return "Invalid option '" + std::string(word) + "': empty value";
    }
    if (name == "process-group") {
        options.process_group = std::string(value);
    } else if (name == "application-group") {
        options.application_group = std::string(value);
    } else if (name == "callable-object") {
        options.callable_object = std::string(value);
    } else if (name == "pass-authorization") {
        auto flag = parse_on_off(value);
        if (!flag) {
            return "Invalid value for option 'pass-authorization': must be On or Off";
        }
        options.pass_authorization = *flag;
    } else {
        return "Invalid option '" + std::string(name) + "'";
    }
    return std::nullopt;
}

std::string expand_application_group(const std::optional<std::string>& spec,
                                     const RequestIdentity& identity, const EnvLookup& lookup) {
    return expand_group(spec ? *spec : "%{RESOURCE}", identity, lookup);
}

std::string expand_process_group(const std::optional<std::string>& spec,
                                 const RequestIdentity& identity, const EnvLookup& lookup) {
    if (!spec) {
        return "";
    }
    return expand_group(*spec, identity, lookup);
}

std::string expand_callable_object(const std::optional<std::string>& spec,
                                   const EnvLookup& lookup) {
    if (!spec || spec->empty()) {
        return "application";
    }
    if (auto name = env_variable_name(*spec)) {
        if (auto value = lookup(*name)) {
            return *value;
        }
        return "application";
    }
    return *spec;
}

}  // namespace wsgi::config
