#include "daemon/socket_io.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wsgi::daemon {
namespace {

// Waits until `fd` is ready for `events`.
IoStatus wait_for(int fd, short events, Millis timeout) {
    pollfd entry{fd, events, 0};
    while (true) {
        int ready = poll(&entry, 1, static_cast<int>(timeout.count()));
        if (ready > 0) {
            return IoStatus::kOk;
        }
        if (ready == 0) {
            return IoStatus::kTimeout;
        }
        if (errno != EINTR) {
            return IoStatus::kError;
        }
    }
}

}  // namespace

IoStatus write_all(int fd, std::string_view data, Millis timeout, std::string_view more) {
    std::string_view parts[2] = {data, more};
    for (std::string_view part : parts) {
        while (!part.empty()) {
            ssize_t written = send(fd, part.data(), part.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (written > 0) {
                part.remove_prefix(static_cast<std::size_t>(written));
                continue;
            }
            if (written < 0 && errno == EINTR) {
                continue;
            }
            if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                IoStatus status = wait_for(fd, POLLOUT, timeout);
                if (status != IoStatus::kOk) {
                    return status;
                }
                continue;
            }
            return errno == EPIPE || errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
        }
    }
    return IoStatus::kOk;
}

IoStatus read_exact(int fd, std::size_t size, std::string& out, Millis timeout) {
    out.resize(size);
    std::size_t have = 0;
    while (have < size) {
        ssize_t got = recv(fd, out.data() + have, size - have, MSG_DONTWAIT);
        if (got > 0) {
            have += static_cast<std::size_t>(got);
            continue;
        }
        if (got == 0) {
            return IoStatus::kClosed;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            IoStatus status = wait_for(fd, POLLIN, timeout);
            if (status != IoStatus::kOk) {
                return status;
            }
            continue;
        }
        return errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
    }
    return IoStatus::kOk;
}

IoStatus read_frame(int fd, protocol::FrameHeader& header, std::string& payload, Millis timeout,
                    std::string& error) {
    std::string raw;
    IoStatus status = read_exact(fd, protocol::kHeaderSize, raw, timeout);
    if (status != IoStatus::kOk) {
        return status;
    }
    auto decoded = protocol::decode_header(raw, error);
    if (!decoded) {
        return IoStatus::kError;
    }
    header = *decoded;
    return read_exact(fd, header.length, payload, timeout);
}

std::string describe(IoStatus status, int saved_errno) {
    switch (status) {
        case IoStatus::kOk:
            return "ok";
        case IoStatus::kClosed:
            return "connection closed by the other end";
        case IoStatus::kTimeout:
            return "timed out";
        case IoStatus::kError:
            return std::strerror(saved_errno);
    }
    return "unknown";
}

}  // namespace wsgi::daemon
