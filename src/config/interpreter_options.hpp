#pragma once
// <WSGIInterpreterOptions [process-group=NAME] [application-group=NAME]> sections (mod_wsgi 6,
// docs "WSGIInterpreterOptions"): settings for the Python interpreters the selectors match,
// on top of the server-wide directives. Pure code: no httpd, no Python; unit-tested directly.
//
// A section matches an interpreter when each selector it has equals the interpreter's process
// group ("" in an Apache child, embedded mode) and application group ("" for the main
// interpreter); %{GLOBAL} stands for "" in both. Its specificity is the number of selectors
// it has (0, 1 or 2). For the On/Off directives the most specific matching section wins, the
// later one of two equally specific; WSGIPythonPath adds up over every matching section,
// least specific first.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsgi::config {

// One <WSGIInterpreterOptions> section and the directives inside it.
struct InterpreterOptions {
    std::optional<std::string> process_group;      // selector; "" = embedded mode
    std::optional<std::string> application_group;  // selector; "" = the main interpreter
    std::optional<bool> per_interpreter_gil;       // WSGIPerInterpreterGIL (no effect, 3.11)
    std::optional<bool> free_threading;            // WSGIFreeThreading (no effect, GIL build)
    std::optional<double> switch_interval;         // WSGISwitchInterval, seconds
    std::vector<std::string> python_path;          // WSGIPythonPath lines, in order
    std::optional<bool> restrict_stdin;            // WSGIRestrictStdin
    std::optional<bool> restrict_stdout;           // WSGIRestrictStdout
    std::optional<bool> restrict_signal;           // WSGIRestrictSignal

    // The number of selectors given: 0, 1 or 2.
    int specificity() const;
    // Whether the section applies to an interpreter of `application_group` in a process of
    // `process_group` (both already expanded; "" for embedded mode / the main interpreter).
    bool matches(std::string_view process_group, std::string_view application_group) const;
    // Whether the section can apply in a process of `process_group`, whatever the application
    // group (its process-group= selector, if any, is that group).
    bool matches_process(std::string_view process_group) const;
};

// The directives allowed inside the section (mod_wsgi 6 allows exactly these).
bool allowed_in_interpreter_options(std::string_view directive);

// Parses the arguments of the section's opening line, without the closing '>', as
// whitespace-separated key=value words (already unquoted): process-group= and
// application-group=, each at most once. Returns an error message, or nullopt with the
// selectors set in `options`.
std::optional<std::string> parse_interpreter_selectors(const std::vector<std::string>& words,
                                                       InterpreterOptions& options);

// What the sections in `sections` (in configuration order) say for one interpreter.
struct ResolvedInterpreterOptions {
    std::optional<bool> restrict_stdin;   // unset: the server-wide directive applies
    std::optional<bool> restrict_stdout;
    std::optional<bool> restrict_signal;
    // The WSGIPythonPath directories of the matching sections, least specific first (the
    // caller puts each layer at the front of sys.path in turn, so the most specific ends up
    // first).
    std::vector<std::vector<std::string>> python_path_layers;
};
ResolvedInterpreterOptions resolve_interpreter_options(
    const std::vector<InterpreterOptions>& sections, std::string_view process_group,
    std::string_view application_group);

// The switch interval of a process of `process_group`: the daemon group's switch-interval=
// (`group_option`) if given, else the most specific matching section without an
// application-group= selector, else `server_wide`: WSGISwitchInterval at server level, which
// the mod_wsgi docs apply in the Apache children only (pass nullopt for a daemon process).
// One value for the whole process: sections with application-group= do not take part
// (without a per-interpreter GIL their value would change every interpreter of the process).
std::optional<double> resolve_switch_interval(const std::vector<InterpreterOptions>& sections,
                                              std::string_view process_group,
                                              std::optional<double> server_wide,
                                              std::optional<double> group_option);

// Parses a WSGISwitchInterval value: a positive number of seconds. nullopt if invalid.
std::optional<double> parse_switch_interval(std::string_view value);

}  // namespace wsgi::config
