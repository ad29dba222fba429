#pragma once
// Blocking frame I/O on a connected UNIX stream socket with per-call deadlines (poll), for
// both ends of the daemon protocol. No httpd, no Python: call without the GIL.

#include <chrono>
#include <cstddef>
#include <string>

#include "daemon/protocol.hpp"

namespace wsgi::daemon {

using Millis = std::chrono::milliseconds;

enum class IoStatus { kOk, kClosed, kTimeout, kError };

// Writes all of `data` (and then `more`, if given) within `timeout` for each wait.
IoStatus write_all(int fd, std::string_view data, Millis timeout, std::string_view more = {});

// Reads exactly `size` bytes into `out` (replacing it). kClosed when the peer closed first.
IoStatus read_exact(int fd, std::size_t size, std::string& out, Millis timeout);

// Reads one frame: its header and payload. kError with `error` set for a malformed header.
IoStatus read_frame(int fd, protocol::FrameHeader& header, std::string& payload, Millis timeout,
                    std::string& error);

// A human-readable name for a status ("timed out", "closed by peer", errno text).
std::string describe(IoStatus status, int saved_errno);

}  // namespace wsgi::daemon
