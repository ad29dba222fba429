#include "daemon/request_meta.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace wsgi::daemon {
namespace {

DaemonRequest sample() {
    DaemonRequest request;
    request.settings.script_filename = "/srv/app.wsgi";
    request.settings.script_name = "/app";
    request.settings.path_info = "/x";
    request.settings.application_group = "example.com|/app";
    request.settings.process_group = "site";
    request.settings.callable_object = "application";
    request.settings.ignore_activity = true;
    request.module_name = "_mod_wsgi_0123";
    request.script_mtime = 42;
    request.client = "127.0.0.1:5000";
    request.secret = "s3cret";
    request.server_index = 3;
    request.config_generation = 2;
    request.server_pid = 1234;
    return request;
}

TEST(RequestMeta, RoundTrip) {
    DaemonRequest decoded;
    std::string error;
    ASSERT_TRUE(decode_meta(encode_meta(sample()), decoded, error)) << error;
    EXPECT_EQ(decoded.settings.script_filename, "/srv/app.wsgi");
    EXPECT_EQ(decoded.settings.application_group, "example.com|/app");
    EXPECT_EQ(decoded.settings.process_group, "site");
    EXPECT_TRUE(decoded.settings.ignore_activity);
    EXPECT_EQ(decoded.script_mtime, 42);
    EXPECT_EQ(decoded.secret, "s3cret");
    EXPECT_EQ(decoded.server_index, 3);
    EXPECT_EQ(decoded.config_generation, 2);
    EXPECT_EQ(decoded.server_pid, 1234);
}

TEST(RequestMeta, IgnoreActivityMayBeAbsent) {
    // An Apache child of the generation before a graceful restart may not send the key.
    protocol::Pairs meta = encode_meta(sample());
    meta.erase(std::remove_if(meta.begin(), meta.end(),
                              [](const auto& pair) { return pair.first == "ignore_activity"; }),
               meta.end());
    DaemonRequest decoded;
    std::string error;
    ASSERT_TRUE(decode_meta(meta, decoded, error)) << error;
    EXPECT_FALSE(decoded.settings.ignore_activity);
}

TEST(RequestMeta, ServerIndexMayBeAbsentOrOutOfRange) {
    protocol::Pairs meta = encode_meta(sample());
    meta.erase(std::remove_if(meta.begin(), meta.end(),
                              [](const auto& pair) { return pair.first == "server_index"; }),
               meta.end());
    DaemonRequest decoded;
    std::string error;
    ASSERT_TRUE(decode_meta(meta, decoded, error)) << error;
    EXPECT_EQ(decoded.server_index, -1);  // the group's own server then
    meta.emplace_back("server_index", "99999999999");
    ASSERT_TRUE(decode_meta(meta, decoded, error)) << error;
    EXPECT_EQ(decoded.server_index, -1);
    meta.back().second = "x";
    EXPECT_FALSE(decode_meta(meta, decoded, error));
}

TEST(RequestMeta, EmptyCallableIsTheApplicationsChoice) {
    // A dispatch script's callable_object() of '' travels as it is (the daemon then answers
    // WSGI0006); a request without a script does not.
    DaemonRequest request = sample();
    request.settings.callable_object = "";
    DaemonRequest decoded;
    std::string error;
    ASSERT_TRUE(decode_meta(encode_meta(request), decoded, error)) << error;
    EXPECT_EQ(decoded.settings.callable_object, "");
    request.settings.script_filename = "";
    EXPECT_FALSE(decode_meta(encode_meta(request), decoded, error));
    EXPECT_NE(error.find("no script"), std::string::npos) << error;
}

TEST(RequestMeta, BadFlagIsRefused) {
    protocol::Pairs meta = encode_meta(sample());
    for (auto& [key, value] : meta) {
        if (key == "ignore_activity") {
            value = "yes";
        }
    }
    DaemonRequest decoded;
    std::string error;
    EXPECT_FALSE(decode_meta(meta, decoded, error));
    EXPECT_NE(error.find("ignore_activity"), std::string::npos) << error;
}

}  // namespace
}  // namespace wsgi::daemon
