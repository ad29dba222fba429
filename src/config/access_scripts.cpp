#include "config/access_scripts.hpp"

#include "config/options.hpp"

namespace wsgi::config {

std::optional<std::string> parse_script_reference(std::string_view path,
                                                  const std::vector<std::string>& words,
                                                  ScriptOptions allowed, ScriptReference& out) {
    if (path.empty()) {
        return std::string("a script file is required");
    }
    out = ScriptReference{};
    out.path = std::string(path);
    ScriptAliasOptions options;
    for (const auto& word : words) {
        std::string_view name = std::string_view(word).substr(0, word.find('='));
        const bool known = name == "application-group" ||
                           (allowed == ScriptOptions::kHandler &&
                            (name == "process-group" || name == "pass-authorization"));
        if (!known) {
            return "Invalid option '" + std::string(name) + "'";
        }
        ScriptAliasOptions before = options;
        if (auto error = parse_script_alias_option(word, options)) {
            return error;
        }
        if ((before.application_group && name == "application-group") ||
            (before.process_group && name == "process-group") ||
            (before.pass_authorization && name == "pass-authorization")) {
            return "Option '" + std::string(name) + "' given twice";
        }
    }
    out.application_group = options.application_group;
    out.process_group = options.process_group;
    out.pass_authorization = options.pass_authorization;
    return std::nullopt;
}

}  // namespace wsgi::config
