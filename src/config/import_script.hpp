#pragma once
// The arguments of WSGIImportScript (mod_wsgi docs, "WSGIImportScript"): a script file and
// the two options both required, process-group= and application-group=. Pure: no httpd,
// no Python; unit-tested.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsgi::config {

// One WSGIImportScript line.
struct ImportScript {
    std::string script;             // the file to load
    std::string process_group;      // "" is %{GLOBAL}: the Apache child processes
    std::string application_group;  // "" is %{GLOBAL} (the main interpreter); may be
                                    // "%{SERVER}", expanded for the server at child start
    // Made from a WSGIScriptAlias naming both groups (preload_from_alias()), not written as a
    // WSGIImportScript line: only its log lines differ.
    bool from_script_alias = false;
};

// A WSGIScriptAlias with both process-group= and application-group= loads its script when
// the process it runs in starts (mod_wsgi docs, "WSGIScriptAlias"), as a WSGIImportScript
// line would. Returns that line, or nullopt when the alias does not preload: a group other
// than %{GLOBAL} or a literal name (expanded per request), or a target that is a directory
// or holds $N substitutions (known only per request). The caller checks that the server may
// use the process group.
std::optional<ImportScript> preload_from_alias(std::string_view target, bool is_match,
                                               std::string_view process_group,
                                               std::string_view application_group);

// Parses the file and the option words ("name=value") that follow it. %{GLOBAL} becomes ""
// in both groups; %{SERVER} is kept for the caller to expand; %{RESOURCE} and %{ENV:...}
// are refused (there is no request when a process starts). Returns an error message (no
// directive name) or nullopt with `out` filled in.
std::optional<std::string> parse_import_script(std::string_view script,
                                               const std::vector<std::string>& options,
                                               ImportScript& out);

}  // namespace wsgi::config
