#include "config/import_script.hpp"

namespace wsgi::config {
namespace {

constexpr std::string_view kGlobal = "%{GLOBAL}";

}  // namespace

std::optional<std::string> parse_import_script(std::string_view script,
                                               const std::vector<std::string>& options,
                                               ImportScript& out) {
    if (script.empty()) {
        return "requires the path of a script file to load";
    }
    std::optional<std::string> process_group;
    std::optional<std::string> application_group;
    for (const std::string& word : options) {
        auto equals = word.find('=');
        if (equals == std::string::npos) {
            return "invalid option '" + word + "': expected name=value";
        }
        std::string name = word.substr(0, equals);
        std::string value = word.substr(equals + 1);
        if (name != "process-group" && name != "application-group") {
            return "unknown option '" + name +
                   "' (the options are process-group= and application-group=)";
        }
        if (value.empty()) {
            return "option '" + name + "' requires a name";
        }
        (name == "process-group" ? process_group : application_group) = std::move(value);
    }
    if (!process_group) {
        return "the process-group= option is required (process-group=%{GLOBAL} for the Apache "
               "child processes)";
    }
    if (!application_group) {
        return "the application-group= option is required (application-group=%{GLOBAL} for "
               "the main interpreter)";
    }
    if (*application_group == "%{RESOURCE}" || application_group->starts_with("%{ENV:")) {
        return "application group '" + *application_group +
               "' depends on a request; use %{GLOBAL}, %{SERVER} or a literal name";
    }
    out.script = std::string(script);
    out.process_group = *process_group == kGlobal ? "" : *process_group;
    out.application_group = *application_group == kGlobal ? "" : *application_group;
    return std::nullopt;
}

std::optional<ImportScript> preload_from_alias(std::string_view target, bool is_match,
                                               std::string_view process_group,
                                               std::string_view application_group) {
    if (target.empty() || target.back() == '/' ||
        (is_match && target.find('$') != std::string_view::npos)) {
        return std::nullopt;
    }
    // As mod_wsgi: %{GLOBAL} or a literal name only (%{SERVER} would be expanded with the
    // server's own port here but with the request's by requests, so it stays per request).
    auto fixed = [](std::string_view group) {
        return group == "%{GLOBAL}" || group.find("%{") == std::string_view::npos;
    };
    if (!fixed(process_group) || !fixed(application_group)) {
        return std::nullopt;
    }
    ImportScript import;
    import.script = std::string(target);
    import.process_group = process_group == "%{GLOBAL}" ? "" : std::string(process_group);
    import.application_group =
        application_group == "%{GLOBAL}" ? "" : std::string(application_group);
    import.from_script_alias = true;
    return import;
}

}  // namespace wsgi::config
