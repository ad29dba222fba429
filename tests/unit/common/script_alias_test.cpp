#include "common/script_alias.hpp"

#include <gtest/gtest.h>

namespace wsgi::common {
namespace {

TEST(AliasMatch, PrefixAtSegmentBoundary) {
    EXPECT_EQ(alias_match_length("/app", "/app"), 4u);
    EXPECT_EQ(alias_match_length("/app/", "/app"), 4u);
    EXPECT_EQ(alias_match_length("/app/a/b", "/app"), 4u);
    EXPECT_EQ(alias_match_length("/appx", "/app"), 0u);
    EXPECT_EQ(alias_match_length("/ap", "/app"), 0u);
    EXPECT_EQ(alias_match_length("/other", "/app"), 0u);
}

TEST(AliasMatch, SlashRunsMatchAnySlashRun) {
    EXPECT_EQ(alias_match_length("//app//x", "/app"), 5u);
    EXPECT_EQ(alias_match_length("/a//b/c", "/a/b"), 5u);
}

TEST(AliasMatch, RootAndDirectoryAliases) {
    EXPECT_EQ(alias_match_length("/", "/"), 1u);
    EXPECT_EQ(alias_match_length("/anything", "/"), 1u);
    EXPECT_EQ(alias_match_length("/dir/script/x", "/dir/"), 5u);
    EXPECT_EQ(alias_match_length("/dir", "/dir/"), 0u);
    EXPECT_EQ(alias_match_length("/x", ""), 0u);
}

TEST(AliasFilename, TargetPlusRest) {
    EXPECT_EQ(alias_filename("/app/a/b", "/app", 4, "/srv/app.wsgi"), "/srv/app.wsgi/a/b");
    EXPECT_EQ(alias_filename("/app", "/app", 4, "/srv/app.wsgi"), "/srv/app.wsgi");
    EXPECT_EQ(alias_filename("/dir/s/x", "/dir/", 5, "/srv/dir/"), "/srv/dir/s/x");
}

TEST(AliasFilename, RootMountKeepsWholeUri) {
    EXPECT_EQ(alias_filename("/", "/", 1, "/srv/app.wsgi"), "/srv/app.wsgi/");
    EXPECT_EQ(alias_filename("/x/y", "/", 1, "/srv/app.wsgi"), "/srv/app.wsgi/x/y");
}

TEST(CollapseSlashes, RunsBecomeOne) {
    EXPECT_EQ(collapse_slashes("//a///b/"), "/a/b/");
    EXPECT_EQ(collapse_slashes(""), "");
    EXPECT_EQ(collapse_slashes("/"), "/");
    EXPECT_EQ(collapse_slashes("abc"), "abc");
}

}  // namespace
}  // namespace wsgi::common
