#include "config/import_script.hpp"

#include <gtest/gtest.h>

namespace wsgi::config {
namespace {

std::optional<std::string> parse(std::string_view script, std::vector<std::string> options,
                                 ImportScript& out) {
    return parse_import_script(script, options, out);
}

TEST(ImportScript, GlobalGroupsBecomeEmpty) {
    ImportScript out;
    EXPECT_EQ(parse("/srv/app.wsgi", {"process-group=%{GLOBAL}", "application-group=%{GLOBAL}"},
                    out),
              std::nullopt);
    EXPECT_EQ(out.script, "/srv/app.wsgi");
    EXPECT_EQ(out.process_group, "");
    EXPECT_EQ(out.application_group, "");
}

TEST(ImportScript, NamedGroupsInAnyOrder) {
    ImportScript out;
    EXPECT_EQ(parse("/srv/app.wsgi", {"application-group=metrics", "process-group=myapp"}, out),
              std::nullopt);
    EXPECT_EQ(out.process_group, "myapp");
    EXPECT_EQ(out.application_group, "metrics");
}

TEST(ImportScript, ServerGroupIsKeptForExpansion) {
    ImportScript out;
    EXPECT_EQ(parse("/a.wsgi", {"process-group=%{GLOBAL}", "application-group=%{SERVER}"}, out),
              std::nullopt);
    EXPECT_EQ(out.application_group, "%{SERVER}");
}

TEST(ImportScript, BothOptionsAreRequired) {
    ImportScript out;
    auto error = parse("/a.wsgi", {"process-group=%{GLOBAL}"}, out);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("application-group"), std::string::npos) << *error;
    error = parse("/a.wsgi", {"application-group=%{GLOBAL}"}, out);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("process-group"), std::string::npos) << *error;
    error = parse("/a.wsgi", {}, out);
    ASSERT_TRUE(error);
}

TEST(ImportScript, MissingScript) {
    ImportScript out;
    auto error = parse("", {"process-group=%{GLOBAL}", "application-group=%{GLOBAL}"}, out);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("script"), std::string::npos) << *error;
}

TEST(ImportScript, BadOptions) {
    ImportScript out;
    const std::vector<std::string> groups = {"process-group=%{GLOBAL}",
                                             "application-group=x"};
    auto with = [&](std::string extra) {
        auto options = groups;
        options.push_back(std::move(extra));
        return parse("/a.wsgi", options, out);
    };
    auto error = with("colour=blue");
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("unknown option 'colour'"), std::string::npos) << *error;
    error = with("process-group");
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("name=value"), std::string::npos) << *error;
    error = parse("/a.wsgi", {"process-group=", "application-group=x"}, out);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("requires a name"), std::string::npos) << *error;
}

TEST(ImportScript, RequestDependentGroupsAreRefused) {
    ImportScript out;
    for (const char* group : {"%{RESOURCE}", "%{ENV:GROUP}"}) {
        auto error = parse("/a.wsgi",
                           {"process-group=%{GLOBAL}", std::string("application-group=") + group},
                           out);
        ASSERT_TRUE(error) << group;
        EXPECT_NE(error->find("depends on a request"), std::string::npos) << *error;
    }
}

TEST(PreloadFromAlias, BothGroupsFixedPreload) {
    auto import = preload_from_alias("/srv/app.wsgi", false, "site", "%{GLOBAL}");
    ASSERT_TRUE(import);
    EXPECT_EQ(import->script, "/srv/app.wsgi");
    EXPECT_EQ(import->process_group, "site");
    EXPECT_EQ(import->application_group, "");
    EXPECT_TRUE(import->from_script_alias);
    auto embedded = preload_from_alias("/srv/app.wsgi", false, "%{GLOBAL}", "app");
    ASSERT_TRUE(embedded);
    EXPECT_EQ(embedded->process_group, "");
    EXPECT_EQ(embedded->application_group, "app");
}

TEST(PreloadFromAlias, GroupsKnownOnlyPerRequestDoNot) {
    EXPECT_FALSE(preload_from_alias("/srv/app.wsgi", false, "site", "%{RESOURCE}"));
    EXPECT_FALSE(preload_from_alias("/srv/app.wsgi", false, "site", "%{ENV:GROUP}"));
    EXPECT_FALSE(preload_from_alias("/srv/app.wsgi", false, "%{ENV:PG}", "app"));
    EXPECT_FALSE(preload_from_alias("/srv/app.wsgi", false, "%{SERVER}", "app"));
    EXPECT_FALSE(preload_from_alias("/srv/app.wsgi", false, "site", "%{SERVER}"));
    EXPECT_FALSE(preload_from_alias("/srv/apps/", false, "site", "app"));  // a directory
    EXPECT_FALSE(preload_from_alias("/srv/$1.wsgi", true, "site", "app"));  // per match
    EXPECT_TRUE(preload_from_alias("/srv/app.wsgi", true, "site", "app"));
}

}  // namespace
}  // namespace wsgi::config
