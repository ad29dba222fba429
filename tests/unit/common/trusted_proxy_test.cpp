#include "common/trusted_proxy.hpp"

#include <gtest/gtest.h>

#include <map>

namespace wsgi::common {
namespace {

AddressBlock block(std::string_view text) {
    auto parsed = parse_address_block(text);
    EXPECT_TRUE(parsed.has_value()) << text;
    return parsed.value_or(AddressBlock{});
}

TEST(AddressBlock, ParsesAddressesAndPrefixes) {
    EXPECT_TRUE(parse_address_block("1.2.3.4"));
    EXPECT_TRUE(parse_address_block("10.0.0.0/8"));
    EXPECT_TRUE(parse_address_block("::1"));
    EXPECT_TRUE(parse_address_block("fd00::/8"));
    EXPECT_FALSE(parse_address_block(""));
    EXPECT_FALSE(parse_address_block("1.2.3"));
    EXPECT_FALSE(parse_address_block("1.2.3.4/33"));
    EXPECT_FALSE(parse_address_block("1.2.3.4/"));
    EXPECT_FALSE(parse_address_block("1.2.3.4/x"));
    EXPECT_FALSE(parse_address_block("::1/129"));
    EXPECT_FALSE(parse_address_block("example.com"));
}

TEST(AddressBlock, MatchesByPrefix) {
    EXPECT_TRUE(block_contains(block("10.0.0.0/8"), "10.200.3.4"));
    EXPECT_FALSE(block_contains(block("10.0.0.0/8"), "11.0.0.1"));
    EXPECT_TRUE(block_contains(block("192.168.1.0/25"), "192.168.1.127"));
    EXPECT_FALSE(block_contains(block("192.168.1.0/25"), "192.168.1.128"));
    EXPECT_TRUE(block_contains(block("127.0.0.1"), "127.0.0.1"));
    EXPECT_FALSE(block_contains(block("127.0.0.1"), "127.0.0.2"));
    EXPECT_TRUE(block_contains(block("0.0.0.0/0"), "8.8.8.8"));
    EXPECT_TRUE(block_contains(block("fd00::/8"), "fd12::1"));
    EXPECT_FALSE(block_contains(block("fd00::/8"), "fe80::1"));
    EXPECT_TRUE(block_contains(block("::1"), "::1"));
    // IPv4 in IPv4-mapped IPv6 form, as Apache reports on a dual-stack listener.
    EXPECT_TRUE(block_contains(block("10.0.0.0/8"), "::ffff:10.1.2.3"));
    EXPECT_FALSE(block_contains(block("10.0.0.0/8"), "garbage"));
}

TEST(ProxyHeaders, CategoriesAndCanonicalNames) {
    EXPECT_EQ(proxy_header_category("x-forwarded-for"), ProxyCategory::kClientAddress);
    EXPECT_EQ(proxy_header_category("X-Client-IP"), ProxyCategory::kClientAddress);
    EXPECT_EQ(proxy_header_category("X-Real-Ip"), ProxyCategory::kClientAddress);
    EXPECT_EQ(proxy_header_category("X-Url-Scheme"), ProxyCategory::kScheme);
    EXPECT_EQ(proxy_header_category("X-Forwarded-SSL"), ProxyCategory::kScheme);
    EXPECT_EQ(proxy_header_category("X-Forwarded-Host"), ProxyCategory::kHost);
    EXPECT_EQ(proxy_header_category("X-Forwarded-Server"), ProxyCategory::kServer);
    EXPECT_EQ(proxy_header_category("X-Forwarded-Port"), ProxyCategory::kPort);
    EXPECT_EQ(proxy_header_category("X-Script-Name"), ProxyCategory::kScriptName);
    EXPECT_FALSE(proxy_header_category("X-Forwarded-Whatever"));
    EXPECT_EQ(canonical_proxy_header("x-real-ip"), "X-Real-IP");
}

struct Request {
    std::map<std::string, std::string> headers;  // lower-case names
    HeaderLookup lookup() const {
        return [this](std::string_view name) -> std::optional<std::string> {
            std::string key(name);
            for (char& c : key) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            auto it = headers.find(key);
            if (it == headers.end()) {
                return std::nullopt;
            }
            return it->second;
        };
    }
};

ProxyRules rules(std::vector<std::string> headers, std::vector<std::string> proxies = {}) {
    ProxyRules r;
    r.trusted_headers = std::move(headers);
    if (!proxies.empty()) {
        r.trusted_proxies.emplace();
        for (const auto& p : proxies) {
            r.trusted_proxies->push_back(block(p));
        }
    }
    return r;
}

TEST(DecideProxyHeaders, NothingTrustedChangesNothing) {
    Request req{{{"x-forwarded-for", "1.2.3.4"}}};
    auto d = decide_proxy_headers(rules({}), "10.0.0.1", req.lookup());
    EXPECT_TRUE(d.removed_headers.empty());
    EXPECT_FALSE(d.remote_addr);
}

TEST(DecideProxyHeaders, ForwardedForRightmostUntrusted) {
    Request req{{{"x-forwarded-for", "6.6.6.6, 1.2.3.4,, 10.0.0.2"}}};
    auto d = decide_proxy_headers(rules({"X-Forwarded-For"}, {"10.0.0.0/8"}), "10.0.0.1",
                                  req.lookup());
    EXPECT_EQ(d.remote_addr, "1.2.3.4");
    // The synonyms are dropped, the trusted header itself is passed on.
    EXPECT_TRUE(d.removes("X-Client-IP"));
    EXPECT_TRUE(d.removes("x-real-ip"));
    EXPECT_FALSE(d.removes("X-Forwarded-For"));
}

TEST(DecideProxyHeaders, ForwardedForAllTrustedGivesLeftmost) {
    Request req{{{"x-forwarded-for", ",10.0.0.7, 10.0.0.2"}}};
    auto d = decide_proxy_headers(rules({"X-Forwarded-For"}, {"10.0.0.0/8"}), "10.0.0.1",
                                  req.lookup());
    EXPECT_EQ(d.remote_addr, "10.0.0.7");
}

TEST(DecideProxyHeaders, ForwardedForWithoutProxyListGivesLeftmost) {
    Request req{{{"x-forwarded-for", "1.1.1.1, 2.2.2.2"}}};
    auto d = decide_proxy_headers(rules({"X-Forwarded-For"}), "127.0.0.1", req.lookup());
    EXPECT_EQ(d.remote_addr, "1.1.1.1");
}

TEST(DecideProxyHeaders, BadAddressIsIgnored) {
    Request req{{{"x-real-ip", "not-an-address"}}};
    auto d = decide_proxy_headers(rules({"X-Real-IP"}), "127.0.0.1", req.lookup());
    EXPECT_FALSE(d.remote_addr);
    Request two{{{"x-client-ip", "1.1.1.1, 2.2.2.2"}}};
    EXPECT_FALSE(decide_proxy_headers(rules({"X-Client-IP"}), "127.0.0.1", two.lookup())
                     .remote_addr);
}

TEST(DecideProxyHeaders, UntrustedPeerLosesEverySynonym) {
    Request req{{{"x-forwarded-for", "1.2.3.4"}, {"x-client-ip", "5.6.7.8"}}};
    auto d = decide_proxy_headers(rules({"X-Forwarded-For", "X-Forwarded-Proto"}, {"10.0.0.1"}),
                                  "192.0.2.1", req.lookup());
    EXPECT_FALSE(d.remote_addr);
    EXPECT_FALSE(d.https);
    for (auto name : {"X-Forwarded-For", "X-Client-IP", "X-Real-IP", "X-Forwarded-Proto",
                      "X-Forwarded-SSL", "X-Url-Scheme", "X-Scheme", "X-HTTPS"}) {
        EXPECT_TRUE(d.removes(name)) << name;
    }
    // Categories nobody trusts are left alone.
    EXPECT_FALSE(d.removes("X-Forwarded-Host"));
    EXPECT_FALSE(d.removes("X-Script-Name"));
}

TEST(DecideProxyHeaders, Scheme) {
    auto https = [](std::string header, std::string value) {
        Request req;
        std::string key = header;
        for (char& c : key) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        req.headers[key] = value;
        return decide_proxy_headers(rules({header}), "127.0.0.1", req.lookup()).https;
    };
    EXPECT_EQ(https("X-Forwarded-Proto", "https"), true);
    EXPECT_EQ(https("X-Forwarded-Proto", "HTTP"), false);
    EXPECT_EQ(https("X-Forwarded-Proto", "https, http"), true);
    EXPECT_EQ(https("X-Forwarded-Proto", "ftp"), std::nullopt);
    EXPECT_EQ(https("X-Url-Scheme", "https"), true);
    EXPECT_EQ(https("X-Forwarded-SSL", "on"), true);
    EXPECT_EQ(https("X-Forwarded-SSL", "off"), false);
    EXPECT_EQ(https("X-Forwarded-SSL", "maybe"), std::nullopt);
}

TEST(DecideProxyHeaders, HostServerPortScriptName) {
    Request req{{{"x-forwarded-host", "example.com:8443, proxy"},
                 {"x-forwarded-server", "front.example.com"},
                 {"x-forwarded-port", "8443"},
                 {"x-script-name", "/mount/"}}};
    auto d = decide_proxy_headers(
        rules({"X-Forwarded-Host", "X-Forwarded-Server", "X-Forwarded-Port", "X-Script-Name"}),
        "127.0.0.1", req.lookup());
    EXPECT_EQ(d.host, "example.com:8443");
    EXPECT_EQ(d.server_name, "front.example.com");
    EXPECT_EQ(d.server_port, "8443");
    EXPECT_EQ(d.script_name, "/mount");
    EXPECT_TRUE(d.removes("X-Host"));
    EXPECT_TRUE(d.removes("X-Forwarded-Script-Name"));

    Request bad{{{"x-forwarded-port", "99999"}, {"x-script-name", "relative"}}};
    auto b = decide_proxy_headers(rules({"X-Forwarded-Port", "X-Script-Name"}), "127.0.0.1",
                                  bad.lookup());
    EXPECT_FALSE(b.server_port);
    EXPECT_FALSE(b.script_name);
    Request root{{{"x-script-name", "/"}}};
    EXPECT_EQ(decide_proxy_headers(rules({"X-Script-Name"}), "127.0.0.1", root.lookup())
                  .script_name,
              "");
}

}  // namespace
}  // namespace wsgi::common
