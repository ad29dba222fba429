#include "config/interpreter_options.hpp"

#include <algorithm>
#include <array>

#include "common/text.hpp"
#include "config/daemon_options.hpp"

namespace wsgi::config {
namespace {

// The sections matching an interpreter, least specific first; of two equally specific ones
// the earlier comes first, so that a later one wins when the caller takes the last value.
template <class Match>
std::vector<const InterpreterOptions*> by_specificity(
    const std::vector<InterpreterOptions>& sections, Match&& match) {
    std::vector<const InterpreterOptions*> matching;
    for (const auto& section : sections) {
        if (match(section)) {
            matching.push_back(&section);
        }
    }
    std::stable_sort(matching.begin(), matching.end(),
                     [](const InterpreterOptions* a, const InterpreterOptions* b) {
                         return a->specificity() < b->specificity();
                     });
    return matching;
}

template <std::optional<bool> InterpreterOptions::*Field>
std::optional<bool> last_set(const std::vector<const InterpreterOptions*>& layers) {
    std::optional<bool> value;
    for (const auto* layer : layers) {
        if (layer->*Field) {
            value = layer->*Field;
        }
    }
    return value;
}

}  // namespace

int InterpreterOptions::specificity() const {
    return (process_group ? 1 : 0) + (application_group ? 1 : 0);
}

bool InterpreterOptions::matches(std::string_view process, std::string_view application) const {
    return matches_process(process) && (!application_group || *application_group == application);
}

bool InterpreterOptions::matches_process(std::string_view process) const {
    return !process_group || *process_group == process;
}

bool allowed_in_interpreter_options(std::string_view directive) {
    static constexpr std::array<std::string_view, 7> kAllowed = {
        "WSGIPerInterpreterGIL", "WSGIFreeThreading",  "WSGISwitchInterval",
        "WSGIPythonPath",        "WSGIRestrictStdin",  "WSGIRestrictStdout",
        "WSGIRestrictSignal"};
    return std::any_of(kAllowed.begin(), kAllowed.end(), [&](std::string_view name) {
        return common::iequals(name, directive);
    });
}

std::optional<std::string> parse_interpreter_selectors(const std::vector<std::string>& words,
                                                       InterpreterOptions& options) {
    for (const auto& word : words) {
        auto equals = word.find('=');
        if (equals == std::string::npos) {
            return "argument '" + word + "' is not of the form key=value";
        }
        std::string_view key = std::string_view(word).substr(0, equals);
        std::string value = word.substr(equals + 1);
        std::optional<std::string>* selector = nullptr;
        if (common::iequals(key, "process-group")) {
            selector = &options.process_group;
        } else if (common::iequals(key, "application-group")) {
            selector = &options.application_group;
        } else {
            return "unknown selector '" + std::string(key) +
                   "', expected process-group or application-group";
        }
        if (*selector) {
            return std::string(key) + " given more than once";
        }
        if (value == "%{GLOBAL}") {
            value.clear();
        } else if (value.starts_with("%{")) {
            // Matching happens when an interpreter is made, where only its name is known.
            return std::string(key) + "=" + value +
                   ": only a literal name or %{GLOBAL} can be matched";
        }
        *selector = std::move(value);
    }
    return std::nullopt;
}

ResolvedInterpreterOptions resolve_interpreter_options(
    const std::vector<InterpreterOptions>& sections, std::string_view process_group,
    std::string_view application_group) {
    auto layers = by_specificity(sections, [&](const InterpreterOptions& section) {
        return section.matches(process_group, application_group);
    });
    ResolvedInterpreterOptions resolved;
    resolved.restrict_stdin = last_set<&InterpreterOptions::restrict_stdin>(layers);
    resolved.restrict_stdout = last_set<&InterpreterOptions::restrict_stdout>(layers);
    resolved.restrict_signal = last_set<&InterpreterOptions::restrict_signal>(layers);
    for (const auto* layer : layers) {
        if (!layer->python_path.empty()) {
            resolved.python_path_layers.push_back(layer->python_path);
        }
    }
    return resolved;
}

std::optional<double> resolve_switch_interval(const std::vector<InterpreterOptions>& sections,
                                              std::string_view process_group,
                                              std::optional<double> server_wide,
                                              std::optional<double> group_option) {
    if (group_option) {
        return group_option;
    }
    std::optional<double> value = server_wide;
    auto layers = by_specificity(sections, [&](const InterpreterOptions& section) {
        return !section.application_group && section.matches_process(process_group);
    });
    for (const auto* layer : layers) {
        if (layer->switch_interval) {
            value = layer->switch_interval;
        }
    }
    return value;
}

std::optional<double> parse_switch_interval(std::string_view value) {
    auto seconds = parse_seconds(value);
    if (!seconds || *seconds <= 0) {
        return std::nullopt;
    }
    return seconds;
}

}  // namespace wsgi::config
