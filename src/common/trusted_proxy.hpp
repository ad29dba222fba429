#pragma once
// Trusted proxy headers (mod_wsgi docs "WSGITrustedProxyHeaders", "WSGITrustedProxies"):
// which request headers a front-end proxy may use to tell the application the client's
// address, the scheme, host, port and mount point, and what happens to them when the peer is
// not a trusted proxy. Pure: no httpd, no Python (addresses are parsed with inet_pton).
//
// The headers come in categories of synonyms. From a trusted peer, the one trusted header of a
// category sets its variable and its untrusted synonyms are dropped; from an untrusted peer
// every header of a category with a trusted header is dropped, all synonyms included, so a
// client cannot slip one past the application (CVE-2022-2255 was a forgotten X-Client-IP).

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsgi::common {

// What a category of proxy headers sets.
enum class ProxyCategory {
    kClientAddress,  // REMOTE_ADDR
    kScheme,         // wsgi.url_scheme (and HTTPS)
    kHost,           // HTTP_HOST
    kServer,         // SERVER_NAME
    kPort,           // SERVER_PORT
    kScriptName,     // SCRIPT_NAME (the original one kept as mod_wsgi.mount_point)
};

// The category of a proxy header name (case-insensitive), or nullopt for any other header.
std::optional<ProxyCategory> proxy_header_category(std::string_view header);

// Every header name of `category`, in canonical spelling.
std::vector<std::string_view> proxy_category_headers(ProxyCategory category);

// The canonical spelling of a proxy header name ("x-forwarded-for" -> "X-Forwarded-For"), or
// nullopt when it is not a supported proxy header.
std::optional<std::string> canonical_proxy_header(std::string_view header);

// An IPv4 or IPv6 network: an address and a prefix length. IPv4 is held as an IPv4-mapped
// IPv6 address, so "10.0.0.1" matches a peer reported as "::ffff:10.0.0.1" and vice versa.
struct AddressBlock {
    std::array<std::uint8_t, 16> address{};
    int prefix_length = 128;
};

// Parses "1.2.3.4", "10.0.0.0/8", "::1" or "fd00::/8". Returns nullopt when malformed (bad
// address, prefix out of range, bits set past the prefix are allowed and ignored).
std::optional<AddressBlock> parse_address_block(std::string_view text);

// Parses an IPv4 or IPv6 address (no prefix) into IPv6 form; nullopt when malformed.
std::optional<std::array<std::uint8_t, 16>> parse_address(std::string_view text);

// True when `address` (text) lies in `block`. A malformed address is in no block.
bool block_contains(const AddressBlock& block, std::string_view address);

// The configuration for one request: WSGITrustedProxyHeaders (canonical names) and
// WSGITrustedProxies (nullopt: not given, every peer counts as trusted, as in mod_wsgi).
struct ProxyRules {
    std::vector<std::string> trusted_headers;
    std::optional<std::vector<AddressBlock>> trusted_proxies;
};

// What the proxy headers of one request change in its environ.
struct ProxyDecision {
    std::vector<std::string> removed_headers;  // canonical names, never passed on
    std::optional<std::string> remote_addr;
    std::optional<bool> https;
    std::optional<std::string> host;
    std::optional<std::string> server_name;
    std::optional<std::string> server_port;
    std::optional<std::string> script_name;

    // True when `header` (any case) is one of removed_headers.
    bool removes(std::string_view header) const;
};

// The value of a request header by name (case-insensitive), or nullopt when absent.
using HeaderLookup = std::function<std::optional<std::string>(std::string_view)>;

// Applies `rules` to a request from `peer` (the connection's address). With no trusted
// headers nothing changes. A trusted header whose value does not parse (not an address, not a
// scheme, a bad port, a SCRIPT_NAME not starting with '/') changes nothing but is still
// passed on. X-Forwarded-For is read right to left: the first address that is not a trusted
// proxy is the client (the leftmost one when all are trusted, or when WSGITrustedProxies is
// not given); empty list elements ("a,,b") are skipped.
ProxyDecision decide_proxy_headers(const ProxyRules& rules, std::string_view peer,
                                   const HeaderLookup& lookup);

}  // namespace wsgi::common
