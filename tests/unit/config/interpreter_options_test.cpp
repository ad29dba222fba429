#include "config/interpreter_options.hpp"

#include <gtest/gtest.h>

namespace wsgi::config {
namespace {

InterpreterOptions section(std::optional<std::string> process_group,
                           std::optional<std::string> application_group) {
    InterpreterOptions options;
    options.process_group = std::move(process_group);
    options.application_group = std::move(application_group);
    return options;
}

TEST(InterpreterOptions, SelectorsParse) {
    InterpreterOptions options;
    EXPECT_EQ(parse_interpreter_selectors({"process-group=site", "application-group=%{GLOBAL}"},
                                          options),
              std::nullopt);
    EXPECT_EQ(options.process_group, "site");
    EXPECT_EQ(options.application_group, "");  // %{GLOBAL}: the main interpreter
    EXPECT_EQ(options.specificity(), 2);

    InterpreterOptions empty;
    EXPECT_EQ(parse_interpreter_selectors({}, empty), std::nullopt);
    EXPECT_EQ(empty.specificity(), 0);
    EXPECT_TRUE(empty.matches("any", "thing"));
}

TEST(InterpreterOptions, BadSelectorsAreRefused) {
    InterpreterOptions options;
    auto unknown = parse_interpreter_selectors({"callable-object=app"}, options);
    ASSERT_TRUE(unknown);
    EXPECT_NE(unknown->find("unknown selector 'callable-object'"), std::string::npos);
    EXPECT_TRUE(parse_interpreter_selectors({"process-group"}, options));
    InterpreterOptions twice;
    auto repeated =
        parse_interpreter_selectors({"process-group=a", "process-group=b"}, twice);
    ASSERT_TRUE(repeated);
    EXPECT_NE(repeated->find("more than once"), std::string::npos);
    InterpreterOptions expanded;
    EXPECT_TRUE(parse_interpreter_selectors({"application-group=%{ENV:APP}"}, expanded));
}

TEST(InterpreterOptions, MatchesOnEachGivenSelector) {
    auto both = section("site", "app1");
    EXPECT_TRUE(both.matches("site", "app1"));
    EXPECT_FALSE(both.matches("site", "app2"));
    EXPECT_FALSE(both.matches("", "app1"));  // embedded mode
    auto embedded = section("", std::nullopt);
    EXPECT_TRUE(embedded.matches("", "anything"));
    EXPECT_FALSE(embedded.matches("site", "anything"));
    EXPECT_TRUE(section(std::nullopt, "app1").matches_process("site"));
}

TEST(InterpreterOptions, MostSpecificWinsThenTheLaterOne) {
    std::vector<InterpreterOptions> sections;
    sections.push_back(section("site", "app1"));
    sections.back().restrict_stdout = true;
    sections.push_back(section(std::nullopt, std::nullopt));
    sections.back().restrict_stdout = false;
    sections.back().restrict_signal = false;
    sections.push_back(section("site", std::nullopt));
    sections.back().restrict_signal = true;
    sections.push_back(section(std::nullopt, "app1"));
    sections.back().restrict_signal = false;  // as specific as the one before, and later

    auto app1 = resolve_interpreter_options(sections, "site", "app1");
    EXPECT_EQ(app1.restrict_stdout, true);
    EXPECT_EQ(app1.restrict_signal, false);
    EXPECT_EQ(app1.restrict_stdin, std::nullopt);  // the server-wide directive applies

    auto other = resolve_interpreter_options(sections, "site", "other");
    EXPECT_EQ(other.restrict_stdout, false);
    EXPECT_EQ(other.restrict_signal, true);

    auto embedded = resolve_interpreter_options(sections, "", "app1");
    EXPECT_EQ(embedded.restrict_stdout, false);
    EXPECT_EQ(embedded.restrict_signal, false);
}

TEST(InterpreterOptions, PythonPathAddsUpLeastSpecificFirst) {
    std::vector<InterpreterOptions> sections;
    sections.push_back(section("site", "app1"));
    sections.back().python_path = {"/both"};
    sections.push_back(section(std::nullopt, std::nullopt));
    sections.back().python_path = {"/all-1", "/all-2"};
    sections.push_back(section(std::nullopt, "app1"));
    sections.back().python_path = {"/app1"};
    sections.push_back(section("elsewhere", std::nullopt));
    sections.back().python_path = {"/not-here"};

    auto resolved = resolve_interpreter_options(sections, "site", "app1");
    ASSERT_EQ(resolved.python_path_layers.size(), 3u);
    EXPECT_EQ(resolved.python_path_layers[0], (std::vector<std::string>{"/all-1", "/all-2"}));
    EXPECT_EQ(resolved.python_path_layers[1], (std::vector<std::string>{"/app1"}));
    EXPECT_EQ(resolved.python_path_layers[2], (std::vector<std::string>{"/both"}));
    EXPECT_TRUE(resolve_interpreter_options(sections, "", "other").python_path_layers.size() ==
                1u);
}

TEST(InterpreterOptions, SwitchIntervalIsPerProcess) {
    std::vector<InterpreterOptions> sections;
    sections.push_back(section(std::nullopt, std::nullopt));
    sections.back().switch_interval = 0.01;
    sections.push_back(section("site", std::nullopt));
    sections.back().switch_interval = 0.002;
    sections.push_back(section("site", "app1"));
    sections.back().switch_interval = 0.5;  // application-group=: never takes part

    EXPECT_EQ(resolve_switch_interval(sections, "site", 0.1, std::nullopt), 0.002);
    EXPECT_EQ(resolve_switch_interval(sections, "", 0.1, std::nullopt), 0.01);
    EXPECT_EQ(resolve_switch_interval(sections, "site", 0.1, 0.003), 0.003);  // the group's
    EXPECT_EQ(resolve_switch_interval({}, "", 0.1, std::nullopt), 0.1);
    EXPECT_EQ(resolve_switch_interval({}, "", std::nullopt, std::nullopt), std::nullopt);
}

TEST(InterpreterOptions, SwitchIntervalValues) {
    EXPECT_EQ(parse_switch_interval("0.002"), 0.002);
    EXPECT_EQ(parse_switch_interval("1"), 1.0);
    EXPECT_EQ(parse_switch_interval("0"), std::nullopt);
    EXPECT_EQ(parse_switch_interval("-1"), std::nullopt);
    EXPECT_EQ(parse_switch_interval("fast"), std::nullopt);
    EXPECT_EQ(parse_switch_interval(""), std::nullopt);
}

TEST(InterpreterOptions, AllowedDirectives) {
    EXPECT_TRUE(allowed_in_interpreter_options("WSGIPythonPath"));
    EXPECT_TRUE(allowed_in_interpreter_options("wsgirestrictsignal"));
    EXPECT_FALSE(allowed_in_interpreter_options("WSGIPythonHome"));
    EXPECT_FALSE(allowed_in_interpreter_options("ServerName"));
}

}  // namespace
}  // namespace wsgi::config
