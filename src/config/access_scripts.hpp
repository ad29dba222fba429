#pragma once
// The script directives of issue 6 (mod_wsgi docs "WSGIAuthUserScript", "WSGIAuthGroupScript",
// "WSGIAccessScript", "WSGIDispatchScript", "WSGIHandlerScript"): a script file plus
// name=value options. Pure: no httpd, no Python; unit-tested directly.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsgi::config {

// A script named by one of the directives and its options.
struct ScriptReference {
    std::string path;                              // the script file
    std::optional<std::string> application_group;  // application-group=, unexpanded
    std::optional<std::string> process_group;      // process-group= (WSGIHandlerScript)
    std::optional<bool> pass_authorization;        // pass-authorization= (WSGIHandlerScript)
};

// WSGIHandlerScript NAME FILE [options]: a named handler.
struct HandlerScript {
    std::string name;  // the handler name used with SetHandler / AddHandler
    ScriptReference script;
};

// Which options a directive takes: application-group= always; process-group= and
// pass-authorization= only for WSGIHandlerScript.
enum class ScriptOptions { kApplicationGroup, kHandler };

// Parses FILE and its option words into `out`. Returns an error message naming the problem
// (no file, unknown or repeated option, missing '=', empty value, bad On/Off) or nullopt.
std::optional<std::string> parse_script_reference(std::string_view path,
                                                  const std::vector<std::string>& words,
                                                  ScriptOptions allowed, ScriptReference& out);

}  // namespace wsgi::config
