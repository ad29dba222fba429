#pragma once
// Blocking frame I/O on a connected UNIX stream socket with per-call deadlines (poll), for
// both ends of the daemon protocol. No httpd, no Python: call without the GIL.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "daemon/protocol.hpp"

namespace wsgi::daemon {

using Millis = std::chrono::milliseconds;

enum class IoStatus { kOk, kClosed, kTimeout, kError };

// Writes all of `data` (and then `more`, if given) within `timeout` for each wait.
IoStatus write_all(int fd, std::string_view data, Millis timeout, std::string_view more = {});

// Writes `data` in one sendmsg() with `fd` attached (SCM_RIGHTS), then waits as write_all for
// any rest. The peer must read it with read_frame(..., received_fds).
IoStatus write_with_fd(int socket, std::string_view data, int fd, Millis timeout);

// Reads exactly `size` bytes into `out` (replacing it). kClosed when the peer closed first,
// with errno ECONNRESET when it closed with bytes of ours unread, else errno 0.
// Descriptors that arrived with the bytes read (SCM_RIGHTS) are appended to `received_fds`
// when given, else closed.
IoStatus read_exact(int fd, std::size_t size, std::string& out, Millis timeout,
                    std::vector<int>* received_fds = nullptr);

// Reads one frame: its header and payload. kError with `error` set for a malformed header.
IoStatus read_frame(int fd, protocol::FrameHeader& header, std::string& payload, Millis timeout,
                    std::string& error, std::vector<int>* received_fds = nullptr);

// A human-readable name for a status ("timed out", "closed by peer", errno text).
std::string describe(IoStatus status, int saved_errno);

}  // namespace wsgi::daemon
