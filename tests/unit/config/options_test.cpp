#include "config/options.hpp"

#include <gtest/gtest.h>

#include <map>

namespace wsgi::config {
namespace {

EnvLookup lookup_from(std::map<std::string, std::string> values) {
    return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
        auto it = values.find(std::string(name));
        if (it == values.end()) {
            return std::nullopt;
        }
        return it->second;
    };
}

TEST(OnOff, CaseInsensitive) {
    EXPECT_EQ(parse_on_off("On"), true);
    EXPECT_EQ(parse_on_off("off"), false);
    EXPECT_EQ(parse_on_off("OFF"), false);
    EXPECT_EQ(parse_on_off("maybe"), std::nullopt);
    EXPECT_EQ(parse_on_off("1"), std::nullopt);
    EXPECT_EQ(parse_on_off(""), std::nullopt);
}

TEST(MapHeadToGet, ThreeValues) {
    EXPECT_EQ(parse_map_head_to_get("auto"), MapHeadToGet::kAuto);
    EXPECT_EQ(parse_map_head_to_get("On"), MapHeadToGet::kOn);
    EXPECT_EQ(parse_map_head_to_get("Off"), MapHeadToGet::kOff);
    EXPECT_EQ(parse_map_head_to_get("Sometimes"), std::nullopt);
}

TEST(ScriptAliasOptions, ParsesKnownOptions) {
    ScriptAliasOptions options;
    EXPECT_EQ(parse_script_alias_option("process-group=site", options), std::nullopt);
    EXPECT_EQ(parse_script_alias_option("application-group=%{GLOBAL}", options), std::nullopt);
    EXPECT_EQ(parse_script_alias_option("callable-object=app", options), std::nullopt);
    EXPECT_EQ(parse_script_alias_option("pass-authorization=On", options), std::nullopt);
    EXPECT_EQ(options.process_group, "site");
    EXPECT_EQ(options.application_group, "%{GLOBAL}");
    EXPECT_EQ(options.callable_object, "app");
    EXPECT_EQ(options.pass_authorization, true);
}

TEST(ScriptAliasOptions, RejectsBadOptions) {
    ScriptAliasOptions options;
    auto unknown = parse_script_alias_option("bogus-option=1", options);
    ASSERT_TRUE(unknown.has_value());
    EXPECT_NE(unknown->find("bogus-option"), std::string::npos);
    EXPECT_TRUE(parse_script_alias_option("process-group", options).has_value());
    EXPECT_TRUE(parse_script_alias_option("process-group=", options).has_value());
    EXPECT_TRUE(parse_script_alias_option("pass-authorization=yes", options).has_value());
}

TEST(ApplicationGroup, Expansions) {
    RequestIdentity identity{"example.com", 80, "/app"};
    auto lookup = lookup_from({{"GROUP", "from-env"}});
    EXPECT_EQ(expand_application_group(std::nullopt, identity, lookup), "example.com|/app");
    EXPECT_EQ(expand_application_group("%{RESOURCE}", identity, lookup), "example.com|/app");
    EXPECT_EQ(expand_application_group("%{GLOBAL}", identity, lookup), "");
    EXPECT_EQ(expand_application_group("%{SERVER}", identity, lookup), "example.com");
    EXPECT_EQ(expand_application_group("%{ENV:GROUP}", identity, lookup), "from-env");
    EXPECT_EQ(expand_application_group("%{ENV:MISSING}", identity, lookup), "%{ENV:MISSING}");
    EXPECT_EQ(expand_application_group("literal", identity, lookup), "literal");
}

TEST(ApplicationGroup, PortShownUnlessDefault) {
    auto lookup = lookup_from({});
    EXPECT_EQ(expand_application_group("%{SERVER}", {"h", 8080, "/x"}, lookup), "h:8080");
    EXPECT_EQ(expand_application_group("%{SERVER}", {"h", 443, "/x"}, lookup), "h");
    EXPECT_EQ(expand_application_group(std::nullopt, {"h", 8080, ""}, lookup), "h:8080|");
}

TEST(ProcessGroup, DefaultIsEmbedded) {
    RequestIdentity identity{"h", 80, "/x"};
    auto lookup = lookup_from({{"PG", "daemon"}});
    EXPECT_EQ(expand_process_group(std::nullopt, identity, lookup), "");
    EXPECT_EQ(expand_process_group("%{GLOBAL}", identity, lookup), "");
    EXPECT_EQ(expand_process_group("%{ENV:PG}", identity, lookup), "daemon");
    EXPECT_EQ(expand_process_group("site", identity, lookup), "site");
}

TEST(CallableObject, DefaultAndEnv) {
    auto lookup = lookup_from({{"CALLABLE", "app2"}});
    EXPECT_EQ(expand_callable_object(std::nullopt, lookup), "application");
    EXPECT_EQ(expand_callable_object("handler", lookup), "handler");
    EXPECT_EQ(expand_callable_object("%{ENV:CALLABLE}", lookup), "app2");
    EXPECT_EQ(expand_callable_object("%{ENV:NOPE}", lookup), "application");
}

}  // namespace
}  // namespace wsgi::config
