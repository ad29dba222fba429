#include "common/http_validate.hpp"

#include <gtest/gtest.h>

namespace wsgi::common {
namespace {

TEST(StatusLine, AcceptsCodeSpaceReason) {
    EXPECT_EQ(check_status_line("200 OK"), std::nullopt);
    EXPECT_EQ(check_status_line("404 Not Found"), std::nullopt);
    EXPECT_EQ(check_status_line("599 "), std::nullopt);  // empty reason phrase is allowed
}

TEST(StatusLine, RejectsMalformed) {
    EXPECT_EQ(check_status_line("200OK"), "no space following status code");
    EXPECT_EQ(check_status_line("200"), "no space following status code");
    EXPECT_EQ(check_status_line("2000 OK"), "status code is not a 3 digit integer");
    EXPECT_EQ(check_status_line("20X OK"), "status code is not a 3 digit integer");
    EXPECT_EQ(check_status_line("OK"), "status code is not a 3 digit integer");
    EXPECT_EQ(check_status_line(""), "status code is not a 3 digit integer");
    EXPECT_EQ(check_status_line("200 OK\r\nX-Injected: 1"),
              "control character present in reason phrase");
    EXPECT_EQ(check_status_line(std::string_view("200 O\0K", 7)),
              "control character present in reason phrase");
}

TEST(StatusLine, OnlyFinalStatusesInRange) {
    EXPECT_EQ(check_status_line("200 OK"), std::nullopt);
    EXPECT_EQ(check_status_line("599 Last"), std::nullopt);
    EXPECT_EQ(check_status_line("100 Continue"),
              "1xx status code is an interim response only the server may send");
    EXPECT_EQ(check_status_line("103 Early Hints"),
              "1xx status code is an interim response only the server may send");
    EXPECT_EQ(check_status_line("199 x"),
              "1xx status code is an interim response only the server may send");
    EXPECT_EQ(check_status_line("099 Low"), "status code out of range 100-599");
    EXPECT_EQ(check_status_line("000 Zero"), "status code out of range 100-599");
    EXPECT_EQ(check_status_line("600 High"), "status code out of range 100-599");
    EXPECT_EQ(check_status_line("999 Odd"), "status code out of range 100-599");
}

TEST(HopByHop, TheFieldsOfRfc9110) {
    for (const char* name : {"Connection", "keep-alive", "Proxy-Authenticate",
                             "Proxy-Authorization", "TE", "Trailer", "Trailers",
                             "Transfer-Encoding", "UPGRADE"}) {
        EXPECT_TRUE(is_hop_by_hop_header(name)) << name;
    }
    EXPECT_FALSE(is_hop_by_hop_header("Content-Length"));
    EXPECT_FALSE(is_hop_by_hop_header("Connection-Id"));
    EXPECT_FALSE(is_hop_by_hop_header(""));
}

TEST(HeaderName, AcceptsTokens) {
    EXPECT_EQ(check_header_name("Content-Type"), std::nullopt);
    EXPECT_EQ(check_header_name("X-Custom_Header.v2!"), std::nullopt);
}

TEST(HeaderName, RejectsNonTokens) {
    EXPECT_EQ(check_header_name(""), "header name is empty");
    EXPECT_EQ(check_header_name("X Header"), "space character present in header name");
    EXPECT_EQ(check_header_name("X-Header\r\n"), "control character present in header name");
    EXPECT_EQ(check_header_name("X-Header:"), "invalid character present in header name");
    EXPECT_EQ(check_header_name("X(y)"), "invalid character present in header name");
    EXPECT_EQ(check_header_name("X\xe9"), "invalid character present in header name");
}

TEST(HeaderValue, RejectsLineBreaksAndNul) {
    EXPECT_EQ(check_header_value("text/html; charset=utf-8"), std::nullopt);
    EXPECT_EQ(check_header_value("caf\xe9"), std::nullopt);  // latin-1 is fine
    EXPECT_TRUE(check_header_value("a\r\nSet-Cookie: x=1").has_value());
    EXPECT_TRUE(check_header_value("a\nb").has_value());
    EXPECT_TRUE(check_header_value("a\rb").has_value());
    EXPECT_TRUE(check_header_value(std::string_view("a\0b", 3)).has_value());
}

TEST(EnvironHeaderName, OnlyLettersDigitsAndDash) {
    EXPECT_TRUE(is_environ_header_name("X-Forwarded-For"));
    EXPECT_TRUE(is_environ_header_name("Accept2"));
    EXPECT_FALSE(is_environ_header_name("X_Forwarded_For"));
    EXPECT_FALSE(is_environ_header_name("X.Forwarded-For"));
    EXPECT_FALSE(is_environ_header_name(""));
}

TEST(EnvironKey, MapsLikeCgi) {
    EXPECT_EQ(environ_key_for_header("User-Agent"), "HTTP_USER_AGENT");
    EXPECT_EQ(environ_key_for_header("x-forwarded-for"), "HTTP_X_FORWARDED_FOR");
    EXPECT_EQ(environ_key_for_header("content-type"), "CONTENT_TYPE");
    EXPECT_EQ(environ_key_for_header("Content-Length"), "CONTENT_LENGTH");
    EXPECT_EQ(environ_key_for_header("Proxy"), "HTTP_PROXY");
}

TEST(ContentLength, StrictDigitsOnly) {
    EXPECT_EQ(parse_content_length("0"), 0);
    EXPECT_EQ(parse_content_length("12345"), 12345);
    EXPECT_EQ(parse_content_length("9223372036854775807"), INT64_MAX);
    EXPECT_EQ(parse_content_length("9223372036854775808"), std::nullopt);
    EXPECT_EQ(parse_content_length(""), std::nullopt);
    EXPECT_EQ(parse_content_length("+5"), std::nullopt);
    EXPECT_EQ(parse_content_length("-1"), std::nullopt);
    EXPECT_EQ(parse_content_length("1e3"), std::nullopt);
    EXPECT_EQ(parse_content_length("0x10"), std::nullopt);
    EXPECT_EQ(parse_content_length("1 0"), std::nullopt);
    EXPECT_EQ(parse_content_length("abc"), std::nullopt);
}

}  // namespace
}  // namespace wsgi::common
