#include "common/trusted_proxy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>

#include "common/text.hpp"

namespace wsgi::common {
namespace {

struct HeaderEntry {
    std::string_view name;
    ProxyCategory category;
};

// The synonyms of each category: mod_wsgi's lists (WSGITrustedProxyHeaders docs) plus
// X-Url-Scheme, which issue 6 names for the scheme.
constexpr HeaderEntry kHeaders[] = {
    {"X-Forwarded-For", ProxyCategory::kClientAddress},
    {"X-Client-IP", ProxyCategory::kClientAddress},
    {"X-Real-IP", ProxyCategory::kClientAddress},
    {"X-Forwarded-Proto", ProxyCategory::kScheme},
    {"X-Forwarded-Scheme", ProxyCategory::kScheme},
    {"X-Scheme", ProxyCategory::kScheme},
    {"X-Url-Scheme", ProxyCategory::kScheme},
    {"X-Forwarded-SSL", ProxyCategory::kScheme},
    {"X-Forwarded-HTTPS", ProxyCategory::kScheme},
    {"X-HTTPS", ProxyCategory::kScheme},
    {"X-Forwarded-Host", ProxyCategory::kHost},
    {"X-Host", ProxyCategory::kHost},
    {"X-Forwarded-Server", ProxyCategory::kServer},
    {"X-Forwarded-Port", ProxyCategory::kPort},
    {"X-Script-Name", ProxyCategory::kScriptName},
    {"X-Forwarded-Script-Name", ProxyCategory::kScriptName},
};

constexpr ProxyCategory kCategories[] = {
    ProxyCategory::kClientAddress, ProxyCategory::kScheme, ProxyCategory::kHost,
    ProxyCategory::kServer,        ProxyCategory::kPort,   ProxyCategory::kScriptName,
};

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// The non-empty, trimmed elements of a comma-separated header value.
std::vector<std::string_view> list_elements(std::string_view value) {
    std::vector<std::string_view> elements;
    while (true) {
        auto comma = value.find(',');
        auto element = trim(value.substr(0, comma));
        if (!element.empty()) {
            elements.push_back(element);
        }
        if (comma == std::string_view::npos) {
            return elements;
        }
        value.remove_prefix(comma + 1);
    }
}

bool is_trusted_peer(const ProxyRules& rules, std::string_view address) {
    if (!rules.trusted_proxies) {
        return true;
    }
    return std::any_of(rules.trusted_proxies->begin(), rules.trusted_proxies->end(),
                       [address](const AddressBlock& block) {
                           return block_contains(block, address);
                       });
}

std::optional<std::string> client_address(const ProxyRules& rules, std::string_view header,
                                          std::string_view value) {
    auto elements = list_elements(value);
    if (elements.empty()) {
        return std::nullopt;
    }
    std::string_view chosen = elements.front();
    if (iequals(header, "X-Forwarded-For") && rules.trusted_proxies) {
        // Each proxy appends the address it received from; the rightmost address that is
        // not one of ours is the client as far as we can vouch for.
        for (auto it = elements.rbegin(); it != elements.rend(); ++it) {
            chosen = *it;
            if (!is_trusted_peer(rules, *it)) {
                break;
            }
        }
    } else if (elements.size() != 1 && !iequals(header, "X-Forwarded-For")) {
        return std::nullopt;  // X-Client-IP and X-Real-IP carry one address
    }
    if (!parse_address(chosen)) {
        return std::nullopt;
    }
    return std::string(chosen);
}

std::optional<bool> scheme_is_https(std::string_view header, std::string_view value) {
    value = trim(value);
    const bool is_flag = iequals(header, "X-Forwarded-SSL") ||
                         iequals(header, "X-Forwarded-HTTPS") || iequals(header, "X-HTTPS");
    if (is_flag) {
        if (iequals(value, "on") || iequals(value, "1") || iequals(value, "true") ||
            iequals(value, "yes")) {
            return true;
        }
        if (iequals(value, "off") || iequals(value, "0") || iequals(value, "false") ||
            iequals(value, "no")) {
            return false;
        }
        return std::nullopt;
    }
    // A chain of proxies may list one scheme each; the first is the client's.
    auto elements = list_elements(value);
    if (elements.empty()) {
        return std::nullopt;
    }
    if (iequals(elements.front(), "https")) {
        return true;
    }
    if (iequals(elements.front(), "http")) {
        return false;
    }
    return std::nullopt;
}

std::optional<std::string> port_number(std::string_view value) {
    value = trim(value);
    if (value.empty() || value.size() > 5 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    long port = std::strtol(std::string(value).c_str(), nullptr, 10);
    if (port < 1 || port > 65535) {
        return std::nullopt;
    }
    return std::to_string(port);
}

bool has_control_characters(std::string_view value) {
    return std::any_of(value.begin(), value.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
}

void apply(const ProxyRules& rules, ProxyCategory category, std::string_view header,
           std::string_view value, ProxyDecision& decision) {
    switch (category) {
        case ProxyCategory::kClientAddress:
            decision.remote_addr = client_address(rules, header, value);
            break;
        case ProxyCategory::kScheme:
            decision.https = scheme_is_https(header, value);
            break;
        case ProxyCategory::kHost:
        case ProxyCategory::kServer: {
            auto elements = list_elements(value);
            if (!elements.empty() && !has_control_characters(elements.front())) {
                (category == ProxyCategory::kHost ? decision.host : decision.server_name) =
                    std::string(elements.front());
            }
            break;
        }
        case ProxyCategory::kPort:
            decision.server_port = port_number(value);
            break;
        case ProxyCategory::kScriptName: {
            std::string_view path = trim(value);
            while (!path.empty() && path.back() == '/') {
                path.remove_suffix(1);  // "/" mounts at the root: SCRIPT_NAME ""
            }
            if ((path.empty() && !trim(value).empty()) ||
                (!path.empty() && path.front() == '/' && !has_control_characters(path))) {
                decision.script_name = std::string(path);
            }
            break;
        }
    }
}

}  // namespace

std::optional<ProxyCategory> proxy_header_category(std::string_view header) {
    for (const auto& entry : kHeaders) {
        if (iequals(entry.name, header)) {
            return entry.category;
        }
    }
    return std::nullopt;
}

std::vector<std::string_view> proxy_category_headers(ProxyCategory category) {
    std::vector<std::string_view> names;
    for (const auto& entry : kHeaders) {
        if (entry.category == category) {
            names.push_back(entry.name);
        }
    }
    return names;
}

std::optional<std::string> canonical_proxy_header(std::string_view header) {
    for (const auto& entry : kHeaders) {
        if (iequals(entry.name, header)) {
            return std::string(entry.name);
        }
    }
    return std::nullopt;
}

std::optional<std::array<std::uint8_t, 16>> parse_address(std::string_view text) {
    std::string address(text);
    std::array<std::uint8_t, 16> bytes{};
    if (address.find(':') != std::string::npos) {
        if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
            return bytes;
        }
        return std::nullopt;
    }
    unsigned char v4[4];
    if (inet_pton(AF_INET, address.c_str(), v4) != 1) {
        return std::nullopt;
    }
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    std::copy(v4, v4 + 4, bytes.begin() + 12);
    return bytes;
}

std::optional<AddressBlock> parse_address_block(std::string_view text) {
    auto slash = text.find('/');
    auto address = parse_address(text.substr(0, slash));
    if (!address) {
        return std::nullopt;
    }
    const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
    AddressBlock block;
    block.address = *address;
    block.prefix_length = 128;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 ||
            !std::all_of(digits.begin(), digits.end(),
                         [](char c) { return c >= '0' && c <= '9'; })) {
            return std::nullopt;
        }
        int length = std::atoi(std::string(digits).c_str());
        if (length > (v4 ? 32 : 128)) {
            return std::nullopt;
        }
        block.prefix_length = v4 ? 96 + length : length;
    }
    return block;
}

bool block_contains(const AddressBlock& block, std::string_view address) {
    auto bytes = parse_address(address);
    if (!bytes) {
        return false;
    }
    int bits = block.prefix_length;
    for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
        const std::uint8_t mask =
            bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
        if (((*bytes)[i] & mask) != (block.address[i] & mask)) {
            return false;
        }
    }
    return true;
}

bool ProxyDecision::removes(std::string_view header) const {
    return std::any_of(removed_headers.begin(), removed_headers.end(),
                       [header](const std::string& name) { return iequals(name, header); });
}

ProxyDecision decide_proxy_headers(const ProxyRules& rules, std::string_view peer,
                                   const HeaderLookup& lookup) {
    ProxyDecision decision;
    if (rules.trusted_headers.empty()) {
        return decision;
    }
    const bool trusted_peer = is_trusted_peer(rules, peer);
    for (ProxyCategory category : kCategories) {
        auto names = proxy_category_headers(category);
        auto is_trusted = [&rules](std::string_view name) {
            return std::any_of(rules.trusted_headers.begin(), rules.trusted_headers.end(),
                               [name](const std::string& t) { return iequals(t, name); });
        };
        if (std::none_of(names.begin(), names.end(), is_trusted)) {
            continue;  // a category nobody trusts passes through untouched
        }
        bool applied = false;
        for (std::string_view name : names) {
            if (!trusted_peer || !is_trusted(name)) {
                decision.removed_headers.emplace_back(name);
                continue;
            }
            if (applied) {
                continue;  // several trusted synonyms: the first listed here wins
            }
            if (auto value = lookup(name)) {
                apply(rules, category, name, *value, decision);
                applied = true;
            }
        }
    }
    return decision;
}

}  // namespace wsgi::common
