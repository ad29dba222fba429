#include "common/text.hpp"

#include <gtest/gtest.h>

namespace wsgi::common {
namespace {

TEST(EscapeLogText, ControlCharactersCannotForgeLines) {
    EXPECT_EQ(escape_log_text("plain text\twith tab"), "plain text\twith tab");
    EXPECT_EQ(escape_log_text("a\nb\rc"), "a\\x0ab\\x0dc");
    EXPECT_EQ(escape_log_text("\x1b[31m"), "\\x1b[31m");
    EXPECT_EQ(escape_log_text("back\\slash"), "back\\\\slash");
    EXPECT_EQ(escape_log_text(std::string_view("nul\0", 4)), "nul\\x00");
    EXPECT_EQ(escape_log_text("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes through
}

TEST(SplitPathList, SkipsEmptyElements) {
    EXPECT_EQ(split_path_list("/a:/b"), (std::vector<std::string>{"/a", "/b"}));
    EXPECT_EQ(split_path_list("/a::/b:"), (std::vector<std::string>{"/a", "/b"}));
    EXPECT_TRUE(split_path_list("").empty());
    EXPECT_TRUE(split_path_list(":::").empty());
}

TEST(Iequals, AsciiCaseInsensitive) {
    EXPECT_TRUE(iequals("Content-Length", "content-length"));
    EXPECT_FALSE(iequals("Content-Length", "Content-Lengt"));
    EXPECT_FALSE(iequals("a", "b"));
}

TEST(SplitLines, OneEntryPerLine) {
    using Lines = std::vector<std::string>;
    EXPECT_EQ(split_lines("a\nb\n"), (Lines{"a", "b"}));
    EXPECT_EQ(split_lines("a\n\nb"), (Lines{"a", "", "b"}));
    EXPECT_EQ(split_lines("single"), (Lines{"single"}));
    EXPECT_EQ(split_lines(""), Lines{});
    EXPECT_EQ(split_lines("\n"), (Lines{""}));
}

}  // namespace
}  // namespace wsgi::common
