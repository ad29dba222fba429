#include "config/options.hpp"

#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "common/text.hpp"

namespace wsgi::config {
namespace {

using common::iequals;

std::string with_port(std::string_view host, const RequestIdentity& identity) {
    std::string name(host);
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
        return with_port(identity.server_hostname, identity);
    }
    if (spec == "%{RESOURCE}") {
        std::string script_name(identity.script_name);
        for (char& c : script_name) {
            if (!identity.case_sensitive && c >= 'A' && c <= 'Z') {
                c = static_cast<char>(c - 'A' + 'a');
            }
        }
        return with_port(identity.server_hostname, identity) + "|" + script_name;
    }
    if (spec == "%{HOST}") {
        return with_port(identity.request_hostname.empty() ? identity.server_hostname
                                                           : identity.request_hostname,
                         identity);
    }
    if (auto name = env_variable_name(spec)) {
        if (auto value = lookup(*name)) {
            return *value;
        }
    }
    return std::string(spec);
}

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n";
    auto begin = text.find_first_not_of(kSpace);
    if (begin == std::string_view::npos) {
        return {};
    }
    auto end = text.find_last_not_of(kSpace);
    return text.substr(begin, end - begin + 1);
}

bool directory_exists(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::is_directory(path, ec);
}

bool file_exists(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec);
}

std::optional<std::string> read_text_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// "3.11" matches "3.11", "3.11.2" and virtualenv's "3.11.2.final.0", but not "3.1" or "3.110".
bool same_minor_version(std::string_view found, std::string_view version) {
    return found == version || (found.size() > version.size() && found.starts_with(version) &&
                                found[version.size()] == '.');
}

std::optional<std::string> check_prefix(const std::string& quoted, std::string_view prefix,
                                        std::string_view version) {
    std::filesystem::path lib =
        std::filesystem::path(prefix) / "lib" / ("python" + std::string(version));
    if (!file_exists(lib / "os.py")) {
        return quoted + " is neither a Python virtual environment (no pyvenv.cfg) nor a Python " +
               std::string(version) + " installation prefix (no " + (lib / "os.py").string() + ")";
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> pyvenv_version(std::string_view text) {
    std::optional<std::string> version;
    std::optional<std::string> version_info;
    while (!text.empty()) {
        auto newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
        auto equals = line.find('=');
        if (equals == std::string_view::npos) {
            continue;
        }
        auto key = trim(line.substr(0, equals));
        auto value = trim(line.substr(equals + 1));
        if (key == "version") {
            version = std::string(value);
        } else if (key == "version_info") {
            version_info = std::string(value);
        }
    }
    return version ? version : version_info;
}

std::optional<std::string> check_python_home(std::string_view value, std::string_view version,
                                             PythonHome& home) {
    std::string path(value);
    const std::string quoted = "'" + path + "'";
    if (path.empty()) {
        return std::string("requires a directory");
    }
    if (path.front() != '/') {
        return quoted + " is not an absolute path";
    }
    while (path.size() > 1 && path.back() == '/') {
        path.pop_back();
    }
    // PYTHONHOME's "prefix:exec_prefix" form: both must exist; the prefix holds the library.
    auto colon = path.find(':');
    std::string prefix = path.substr(0, colon);
    if (colon != std::string::npos) {
        std::string exec_prefix = path.substr(colon + 1);
        for (const auto& part : {prefix, exec_prefix}) {
            if (part.empty() || part.front() != '/' || !directory_exists(part)) {
                return quoted + ": '" + part + "' does not exist or is not a directory";
            }
        }
        if (auto error = check_prefix(quoted, prefix, version)) {
            return error;
        }
        home = PythonHome{path, false};
        return std::nullopt;
    }
    if (!directory_exists(path)) {
        return quoted + " does not exist or is not a directory";
    }
    std::filesystem::path cfg = std::filesystem::path(path) / "pyvenv.cfg";
    if (file_exists(cfg)) {
        auto text = read_text_file(cfg);
        if (!text) {
            return quoted + ": " + cfg.string() + " cannot be read";
        }
        auto found = pyvenv_version(*text);
        if (found && !same_minor_version(*found, version)) {
            return quoted + " is a virtual environment for Python " + *found +
                   ", but mod_wsgi embeds Python " + std::string(version) +
                   "; recreate it with Python " + std::string(version);
        }
        if (!found && !directory_exists(std::filesystem::path(path) / "lib" /
                                        ("python" + std::string(version)))) {
            return quoted + " is not a virtual environment for Python " + std::string(version) +
                   " (no version in pyvenv.cfg, no lib/python" + std::string(version) + ")";
        }
        home = PythonHome{path, true};
        return std::nullopt;
    }
    if (auto error = check_prefix(quoted, path, version)) {
        return error;
    }
    home = PythonHome{path, false};
    return std::nullopt;
}

std::optional<int> parse_optimize_level(std::string_view value) {
    if (value == "0" || value == "1" || value == "2") {
        return value[0] - '0';
    }
    return std::nullopt;
}

std::optional<HashSeed> parse_hash_seed(std::string_view value) {
    if (iequals(value, "random")) {
        return HashSeed{};
    }
    if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    std::uint32_t seed = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seed);
    if (ec != std::errc() || end != value.data() + value.size()) {
        return std::nullopt;
    }
    return HashSeed{false, seed};
}

std::optional<std::string> check_warning_option(std::string_view value) {
    std::vector<std::string_view> fields;
    std::string_view rest = value;
    while (true) {
        auto colon = rest.find(':');
        fields.push_back(trim(rest.substr(0, colon)));
        if (colon == std::string_view::npos) {
            break;
        }
        rest = rest.substr(colon + 1);
    }
    if (fields.size() > 5) {
        return "'" + std::string(value) +
               "' has too many fields (action:message:category:module:lineno)";
    }
    constexpr std::array<std::string_view, 6> kActions = {"default", "error", "always",
                                                          "module",  "once",  "ignore"};
    std::string_view action = fields[0];
    // Python takes an empty action as "default" and "all" as "always".
    bool known = action.empty() || action == "all";
    for (auto candidate : kActions) {
        known = known || candidate.starts_with(action);
    }
    if (!known) {
        return "'" + std::string(value) + "': invalid action '" + std::string(action) +
               "' (default, error, always, module, once or ignore)";
    }
    if (fields.size() == 5 && !fields[4].empty() &&
        fields[4].find_first_not_of("0123456789") != std::string_view::npos) {
        return "'" + std::string(value) + "': invalid line number '" + std::string(fields[4]) + "'";
    }
    return std::nullopt;
}

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
