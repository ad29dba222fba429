#include "config/access_scripts.hpp"

#include <gtest/gtest.h>

namespace wsgi::config {
namespace {

TEST(ParseScriptReference, FileAndApplicationGroup) {
    ScriptReference ref;
    EXPECT_FALSE(parse_script_reference("/srv/auth.wsgi", {"application-group=%{GLOBAL}"},
                                        ScriptOptions::kApplicationGroup, ref));
    EXPECT_EQ(ref.path, "/srv/auth.wsgi");
    EXPECT_EQ(ref.application_group, "%{GLOBAL}");
    EXPECT_FALSE(ref.process_group);

    EXPECT_FALSE(parse_script_reference("/srv/auth.wsgi", {}, ScriptOptions::kApplicationGroup,
                                        ref));
    EXPECT_FALSE(ref.application_group);
}

TEST(ParseScriptReference, RejectsWhatTheDirectiveDoesNotTake) {
    ScriptReference ref;
    EXPECT_TRUE(parse_script_reference("", {}, ScriptOptions::kApplicationGroup, ref));
    EXPECT_TRUE(parse_script_reference("/a", {"process-group=x"},
                                       ScriptOptions::kApplicationGroup, ref));
    EXPECT_TRUE(parse_script_reference("/a", {"callable-object=x"}, ScriptOptions::kHandler,
                                       ref));
    EXPECT_TRUE(parse_script_reference("/a", {"application-group"},
                                       ScriptOptions::kApplicationGroup, ref));
    EXPECT_TRUE(parse_script_reference("/a", {"application-group="},
                                       ScriptOptions::kApplicationGroup, ref));
    EXPECT_TRUE(parse_script_reference("/a", {"application-group=a", "application-group=b"},
                                       ScriptOptions::kApplicationGroup, ref));
    EXPECT_TRUE(parse_script_reference("/a", {"pass-authorization=maybe"},
                                       ScriptOptions::kHandler, ref));
}

TEST(ParseScriptReference, HandlerOptions) {
    ScriptReference ref;
    EXPECT_FALSE(parse_script_reference(
        "/h.wsgi", {"process-group=web", "application-group=%{GLOBAL}", "pass-authorization=On"},
        ScriptOptions::kHandler, ref));
    EXPECT_EQ(ref.process_group, "web");
    EXPECT_EQ(ref.application_group, "%{GLOBAL}");
    EXPECT_EQ(ref.pass_authorization, true);
}

}  // namespace
}  // namespace wsgi::config
