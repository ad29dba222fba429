#pragma once
// Blocking frame I/O on a connected UNIX stream socket with per-call deadlines (poll), for
// both ends of the daemon protocol. No httpd, no Python: call without the GIL.

#include <chrono>
#include <cstddef>
#include <deque>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "daemon/protocol.hpp"

namespace wsgi::daemon {

using Millis = std::chrono::milliseconds;

enum class IoStatus { kOk, kClosed, kTimeout, kError };

// Writes all of `parts`, in order, within `timeout` for each wait: one sendmsg() for all of
// them when the socket takes them at once (a frame header and its payload are one system call).
IoStatus write_all(int fd, std::span<const std::string_view> parts, Millis timeout);

inline IoStatus write_all(int fd, std::initializer_list<std::string_view> parts,
                          Millis timeout) {
    return write_all(fd, std::span<const std::string_view>(parts.begin(), parts.size()),
                     timeout);
}

// Writes all of `data` (and then `more`, if given) within `timeout` for each wait.
inline IoStatus write_all(int fd, std::string_view data, Millis timeout,
                          std::string_view more = {}) {
    return write_all(fd, {data, more}, timeout);
}

// Makes every blocking receive on `fd` (a blocking socket) give up after `timeout`
// (SO_RCVTIMEO), for a FrameReader built with `timed_socket`. False when the timeout cannot be
// set (then use a FrameReader without `timed_socket`).
bool set_receive_timeout(int fd, Millis timeout);

// Writes `data` in one sendmsg() with `fd` attached (SCM_RIGHTS), then waits as write_all for
// any rest. The peer must read it with read_frame(..., received_fds).
IoStatus write_with_fd(int socket, std::string_view data, int fd, Millis timeout);

// Reads the frames of one connection through a buffer, so that a frame and those the peer sent
// right after it come in one recvmsg() where they fit, and hands out each payload as a view into
// that buffer (no copy). On a socket set up by set_receive_timeout(), a read that has to wait
// is one blocking recvmsg(), not recvmsg(), poll() and recvmsg() again. No GIL needed; one
// thread at a time.
class FrameReader {
public:
    // `fd` is not owned. `storage` holds the received bytes; it outlives the reader and is kept
    // by the caller (one per thread) so that its memory serves request after request. With
    // `timed_socket`, `fd` is a blocking socket whose SO_RCVTIMEO is the wait given to next().
    FrameReader(int fd, std::string& storage, bool timed_socket);
    ~FrameReader();  // closes descriptors received and never taken; trims a grown `storage`
    FrameReader(const FrameReader&) = delete;
    FrameReader& operator=(const FrameReader&) = delete;

    // Reads the next frame. `payload` stays valid until the next call or the reader's end.
    // kClosed when the peer closed first, with errno ECONNRESET when it closed with bytes of
    // ours unread, else errno 0; kError with `error` set for a malformed header.
    IoStatus next(protocol::FrameHeader& header, std::string_view& payload, Millis timeout,
                  std::string& error);

    // The oldest descriptor passed with the frames read (SCM_RIGHTS) and not yet taken, now
    // owned by the caller; -1 when there is none.
    int take_fd();

    // Bytes received past the last frame returned: nonzero after a conversation means the peer
    // sent something it should not have, so the connection cannot be kept.
    std::size_t pending() const { return end_ - start_; }

    // `storage` grown past this for a big frame is given back when the reader ends.
    static constexpr std::size_t kMaxKeptStorage = 256 * 1024 + 64;

private:
    // Makes at least `needed` bytes from start_ available in the buffer.
    IoStatus fill(std::size_t needed, Millis timeout);

    int fd_;
    std::string& buffer_;
    bool timed_;
    std::size_t start_ = 0;  // first byte not yet handed out
    std::size_t end_ = 0;    // end of the bytes received
    std::deque<int> fds_;
};

// A human-readable name for a status ("timed out", "closed by peer", errno text).
std::string describe(IoStatus status, int saved_errno);

}  // namespace wsgi::daemon
