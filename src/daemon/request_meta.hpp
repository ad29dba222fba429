#pragma once
// What a daemon process needs to know about a request beyond its environ: the script, the
// application group, the settings the Apache child resolved. Carried as the `meta` pairs of
// the kRequest frame. Pure.

#include <cstdint>
#include <string>

#include "daemon/protocol.hpp"
#include "wsgi/request.hpp"

namespace wsgi::daemon {

struct DaemonRequest {
    wsgi::RequestSettings settings;
    std::string module_name;       // the script's module name (see wsgi/script.hpp)
    std::int64_t script_mtime = 0; // microseconds, from Apache's stat of the script
    bool head_only = false;        // HEAD: Apache drops the body
    bool https = false;
    bool body_within_content_length = true;  // see wsgi::EnvironFacts
    double request_start = 0;      // seconds since the epoch
    double queue_start = 0;        // when the Apache child began passing it on (epoch seconds)
    std::string client;            // "address:port" of the client, for log lines
    std::string secret;            // the server start's secret (see GroupRuntime::secret)
    // The request's (virtual) server: its position in Apache's list of servers, the main
    // server 0, so that the daemon process logs the request where the child would (the
    // virtual host's ErrorLog). -1 when not sent (an Apache child of an earlier module).
    int server_index = -1;
    // The configuration generation the index belongs to (AP_SQ_CONFIG_GEN): after a graceful
    // restart a child of the old generation may reach a new daemon process, whose list of
    // servers may differ. -1 when not sent.
    long config_generation = -1;
    long server_pid = 0;  // the Apache child's pid (0 when not sent: an earlier module)
};

protocol::Pairs encode_meta(const DaemonRequest& request);

// Fills `request` from meta pairs; false with `error` set when a required key is missing or a
// number does not parse.
bool decode_meta(const protocol::Pairs& meta, DaemonRequest& request, std::string& error);

}  // namespace wsgi::daemon
