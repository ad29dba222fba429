#include "daemon/socket_io.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

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

// recv() that takes descriptors passed with SCM_RIGHTS.
static ssize_t receive(int fd, char* buffer, std::size_t size, std::vector<int>* received_fds) {
    iovec part{buffer, size};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr message{};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t got = recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got > 0) {
        for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
             header = CMSG_NXTHDR(&message, header)) {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
                continue;
            }
            std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            const auto* fds = reinterpret_cast<const int*>(CMSG_DATA(header));
            for (std::size_t i = 0; i < count; ++i) {
                if (received_fds != nullptr) {
                    received_fds->push_back(fds[i]);
                } else {
                    close(fds[i]);
                }
            }
        }
    }
    return got;
}

IoStatus read_exact(int fd, std::size_t size, std::string& out, Millis timeout,
                    std::vector<int>* received_fds) {
    out.resize(size);
    std::size_t have = 0;
    while (have < size) {
        ssize_t got = receive(fd, out.data() + have, size - have, received_fds);
        if (got > 0) {
            have += static_cast<std::size_t>(got);
            continue;
        }
        if (got == 0) {
            errno = 0;  // an orderly end, unlike ECONNRESET below (callers tell them apart)
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

IoStatus write_with_fd(int socket, std::string_view data, int fd, Millis timeout) {
    iovec part{const_cast<char*>(data.data()), data.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
    while (true) {
        ssize_t sent = sendmsg(socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0) {
            // The descriptor went with the first byte; the rest is plain data.
            return write_all(socket, data.substr(static_cast<std::size_t>(sent)), timeout);
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            IoStatus status = wait_for(socket, POLLOUT, timeout);
            if (status != IoStatus::kOk) {
                return status;
            }
            continue;
        }
        return errno == EPIPE || errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
    }
}

IoStatus read_frame(int fd, protocol::FrameHeader& header, std::string& payload, Millis timeout,
                    std::string& error, std::vector<int>* received_fds) {
    std::string raw;
    IoStatus status = read_exact(fd, protocol::kHeaderSize, raw, timeout, received_fds);
    if (status != IoStatus::kOk) {
        return status;
    }
    auto decoded = protocol::decode_header(raw, error);
    if (!decoded) {
        return IoStatus::kError;
    }
    header = *decoded;
    return read_exact(fd, header.length, payload, timeout, received_fds);
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
