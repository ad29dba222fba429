#pragma once
// Pure parsers for WSGI* directive values and for the %{...} names of application groups,
// process groups and callable objects (mod_wsgi docs: "WSGIApplicationGroup",
// "WSGIScriptAlias", "WSGICallableObject"). No httpd, no Python: unit-tested directly.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace wsgi::config {

// WSGIMapHEADToGET: whether a HEAD request reaches the application as GET.
enum class MapHeadToGet { kOff, kOn, kAuto };

// Parses "Off" / "On" / "Auto" (case-insensitive). Returns nullopt for anything else.
std::optional<MapHeadToGet> parse_map_head_to_get(std::string_view value);

// Parses "On" / "Off" (case-insensitive). Returns nullopt for anything else.
std::optional<bool> parse_on_off(std::string_view value);

// WSGIPythonHome, as checked when the directive is read.
struct PythonHome {
    std::string path;                  // absolute, no trailing '/' (may be "prefix:exec_prefix")
    bool virtual_environment = false;  // `path` holds a pyvenv.cfg
};

// The Python version recorded in the text of a pyvenv.cfg file (its "version" key, or
// "version_info" as written by virtualenv), or nullopt when it has neither.
std::optional<std::string> pyvenv_version(std::string_view text);

// Checks a WSGIPythonHome value against the Python version this module embeds (`version`,
// e.g. "3.11"), reading the filesystem: a virtual environment (a directory with pyvenv.cfg)
// must have been made by that version; any other directory must be a prefix holding
// lib/pythonX.Y/os.py ("prefix:exec_prefix" is accepted, as for PYTHONHOME). Returns an error
// message naming the path, or nullopt with `home` filled in.
std::optional<std::string> check_python_home(std::string_view value, std::string_view version,
                                             PythonHome& home);

// WSGIPythonOptimize: "0", "1" or "2". Returns nullopt for anything else.
std::optional<int> parse_optimize_level(std::string_view value);

// WSGIPythonHashSeed: "random" (case-insensitive) or a seed 0..4294967295.
struct HashSeed {
    bool random = true;
    std::uint32_t seed = 0;  // when not random
};
std::optional<HashSeed> parse_hash_seed(std::string_view value);

// Checks one WSGIPythonWarnings entry, Python's -W syntax
// "action:message:category:module:lineno": at most five fields, the action one of (or a
// prefix of) default, error, always, module, once, ignore (or "all"), and the line number a
// non-negative integer. The category is only known once Python imports it. Returns an error
// message or nullopt.
std::optional<std::string> check_warning_option(std::string_view value);

// The options accepted after the target of WSGIScriptAlias / WSGIScriptAliasMatch.
struct ScriptAliasOptions {
    std::optional<std::string> process_group;
    std::optional<std::string> application_group;
    std::optional<std::string> callable_object;
    std::optional<bool> pass_authorization;
};

// Parses one "name=value" option word into `options`. Returns an error message (naming the
// option) for an unknown option, a missing '=', an empty value or a bad On/Off value.
std::optional<std::string> parse_script_alias_option(std::string_view word,
                                                     ScriptAliasOptions& options);

// What the %{...} expansions of a request need to know.
struct RequestIdentity {
    std::string_view server_hostname;  // ServerName of the (virtual) server
    unsigned port = 80;                // the server port of the request
    std::string_view script_name;      // SCRIPT_NAME as given to the application
    // The host the request names (Host header, r->hostname) when it is one of the virtual
    // host's names; server_hostname when empty.
    std::string_view request_hostname = {};
    // WSGICaseSensitivity: Off lower-cases the script name in %{RESOURCE} (mod_wsgi 6,
    // wsgi_script_name), so that /App and /app share an interpreter on a file system that
    // does not tell them apart.
    bool case_sensitive = true;
};

// Looks up a variable for %{ENV:NAME}: request notes, then the request environment
// (SetEnv, mod_rewrite [E=]), then the process environment. Returns nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

// Expands an application group name. nullopt (not configured) means %{RESOURCE}, the
// default; %{GLOBAL} is "" (the main interpreter); %{SERVER} is "host[:port]";
// %{RESOURCE} is "host[:port]|SCRIPT_NAME"; %{HOST} is "name[:port]" with the name the
// request gives in its Host header when the virtual host answers to it (ServerName or
// ServerAlias; mod_wsgi 4 has it), else the server's; %{ENV:NAME} is the variable's value
// (the spec itself when unset);
// anything else is a literal name. The port is left out when 80 or 443.
std::string expand_application_group(const std::optional<std::string>& spec,
                                     const RequestIdentity& identity, const EnvLookup& lookup);

// Expands a process group name. nullopt and %{GLOBAL} are "" (embedded mode); other
// expansions as for application groups.
std::string expand_process_group(const std::optional<std::string>& spec,
                                 const RequestIdentity& identity, const EnvLookup& lookup);

// Expands the WSGI callable's name: nullopt is "application"; %{ENV:NAME} is the variable's
// value, or "application" when unset.
std::string expand_callable_object(const std::optional<std::string>& spec,
                                   const EnvLookup& lookup);

}  // namespace wsgi::config
