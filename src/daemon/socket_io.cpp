#include "daemon/socket_io.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
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

// The status of a receive that returned 0 (kClosed, errno 0) or failed for good (kClosed for
// ECONNRESET, else kError).
IoStatus ended(ssize_t got) {
    if (got == 0) {
        errno = 0;  // an orderly end, unlike ECONNRESET (callers tell them apart)
        return IoStatus::kClosed;
    }
    return errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
}

// The big buffers of the process's FrameReaders (see FrameReader): a thread takes one for a
// big frame and gives it back once the frame is used.
class BigBuffers {
public:
    BigBuffers() { kept_.reserve(FrameReader::kMaxKeptBuffers); }  // give() never allocates
    // A buffer kept from before (its size is what it last held), or an empty one.
    MappedString take() {
        std::lock_guard lock(mutex_);
        if (kept_.empty()) {
            return {};
        }
        MappedString buffer = std::move(kept_.back());
        kept_.pop_back();
        return buffer;
    }
    // Keeps `buffer` for a later frame unless it is too big or enough are kept; else frees it.
    void give(MappedString&& buffer) {
        if (buffer.size() > FrameReader::kMaxKeptBuffer) {
            return;
        }
        std::lock_guard lock(mutex_);
        if (kept_.size() < FrameReader::kMaxKeptBuffers) {
            kept_.push_back(std::move(buffer));
        }
    }
    std::size_t kept() {
        std::lock_guard lock(mutex_);
        return kept_.size();
    }

private:
    std::mutex mutex_;
    std::vector<MappedString> kept_;
};

std::size_t whole_pages(std::size_t bytes) {
    static const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return (bytes + page - 1) / page * page;
}

BigBuffers& big_buffers() {
    // Never destroyed: a thread may still give a buffer back while the process exits.
    static BigBuffers& buffers = *new BigBuffers;
    return buffers;
}

}  // namespace

IoStatus write_all(int fd, std::span<const std::string_view> parts, Millis timeout) {
    std::vector<iovec> vector;
    vector.reserve(parts.size());
    for (std::string_view part : parts) {
        if (!part.empty()) {
            vector.push_back(iovec{const_cast<char*>(part.data()), part.size()});
        }
    }
    iovec* next = vector.data();
    std::size_t count = vector.size();
    while (count > 0) {
        msghdr message{};
        message.msg_iov = next;
        message.msg_iovlen = std::min<std::size_t>(count, IOV_MAX);
        ssize_t written = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                IoStatus status = wait_for(fd, POLLOUT, timeout);
                if (status != IoStatus::kOk) {
                    return status;
                }
                continue;
            }
            return errno == EPIPE || errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
        }
        auto left = static_cast<std::size_t>(written);
        while (count > 0 && left >= next->iov_len) {
            left -= next->iov_len;
            ++next;
            --count;
        }
        if (count > 0) {
            next->iov_base = static_cast<char*>(next->iov_base) + left;
            next->iov_len -= left;
        }
    }
    return IoStatus::kOk;
}

bool set_receive_timeout(int fd, Millis timeout) {
    if (timeout.count() <= 0) {
        return false;  // SO_RCVTIMEO 0 would mean no limit at all
    }
    timeval limit{};
    limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    limit.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)) == 0;
}

// recv() that queues descriptors passed with SCM_RIGHTS in `received_fds`.
static ssize_t receive(int fd, char* buffer, std::size_t size, std::deque<int>& received_fds,
                       int flags) {
    iovec part{buffer, size};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr message{};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    ssize_t got = recvmsg(fd, &message, flags | MSG_CMSG_CLOEXEC);
    if (got > 0) {
        for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
             header = CMSG_NXTHDR(&message, header)) {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
                continue;
            }
            std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            const auto* fds = reinterpret_cast<const int*>(CMSG_DATA(header));
            received_fds.insert(received_fds.end(), fds, fds + count);
        }
    }
    return got;
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

void* map_pages(std::size_t bytes) {
    void* data = mmap(nullptr, whole_pages(bytes), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) {
        throw std::bad_alloc();
    }
    return data;
}

void unmap_pages(void* data, std::size_t bytes) noexcept { munmap(data, whole_pages(bytes)); }

FrameReader::FrameReader(int fd, std::string& storage, bool timed_socket)
    : fd_(fd), small_(storage), timed_(timed_socket) {}

FrameReader::~FrameReader() {
    for (int fd : fds_) {
        close(fd);
    }
}

std::size_t FrameReader::kept_buffers() { return big_buffers().kept(); }

SharedBuffer::SharedBuffer() : buffer_(big_buffers().take()) {}

SharedBuffer::~SharedBuffer() { big_buffers().give(std::move(buffer_)); }

void FrameReader::take_big_buffer(std::size_t needed) {
    MappedString& big = big_.emplace().get();
    if (big.size() < needed) {
        try {
            big.resize(needed);
        } catch (...) {
            big_.reset();  // the pending bytes stay in `storage`, where data() finds them
            throw;
        }
    }
    std::memcpy(big.data(), small_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
}

void FrameReader::give_back_big_buffer() {
    big_.reset();
    start_ = end_ = 0;
}

int FrameReader::take_fd() {
    if (fds_.empty()) {
        return -1;
    }
    int fd = fds_.front();
    fds_.pop_front();
    return fd;
}

IoStatus FrameReader::fill(std::size_t needed, Millis timeout) {
    if (start_ == end_) {
        start_ = end_ = 0;
    }
    if (!big_ && needed > kSmallBuffer) {
        take_big_buffer(needed);
    }
    if (start_ + needed > size()) {
        if (start_ > 0) {
            std::memmove(data(), data() + start_, end_ - start_);
            end_ -= start_;
            start_ = 0;
        }
        if (needed > size()) {
            // `storage` gets kSmallBuffer once; a shared buffer what the frame needs.
            if (big_) {
                big_->get().resize(needed);
            } else {
                small_.resize(kSmallBuffer);
            }
        }
    }
    while (end_ - start_ < needed) {
        const int flags = timed_ && !before_waiting_ ? 0 : MSG_DONTWAIT;
        ssize_t got = receive(fd_, data() + end_, size() - end_, fds_, flags);
        if (got > 0) {
            end_ += static_cast<std::size_t>(got);
            continue;
        }
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (before_waiting_) {
                waiting_soon();
                continue;  // and now wait
            }
            if (timed_) {
                return IoStatus::kTimeout;  // SO_RCVTIMEO ran out
            }
            IoStatus status = wait_for(fd_, POLLIN, timeout);
            if (status != IoStatus::kOk) {
                return status;
            }
            continue;
        }
        return ended(got);
    }
    return IoStatus::kOk;
}

IoStatus FrameReader::receive_ready() {
    start_ = end_ = 0;
    while (true) {
        ssize_t got = receive(fd_, data(), size(), fds_, MSG_DONTWAIT);
        if (got > 0) {
            end_ = static_cast<std::size_t>(got);
            return IoStatus::kOk;
        }
        if (got < 0 && errno == EINTR) {
            continue;
        }
        int saved_errno = errno;
        give_back_big_buffer();
        errno = saved_errno;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return IoStatus::kOk;  // nothing yet: fill() waits, in `storage`
        }
        return ended(got);
    }
}

IoStatus FrameReader::receive_now() {
    if (start_ != end_ || big_) {
        return IoStatus::kOk;  // bytes are here already
    }
    if (small_.size() < kSmallBuffer) {
        small_.resize(kSmallBuffer);
    }
    IoStatus status = receive_ready();  // into `storage`, there being no shared buffer
    return status == IoStatus::kOk && end_ == 0 ? IoStatus::kTimeout : status;
}

void FrameReader::waiting_soon() {
    if (before_waiting_) {
        std::exchange(before_waiting_, nullptr)();
    }
}

IoStatus FrameReader::next(protocol::FrameHeader& header, std::string_view& payload,
                           Millis timeout, std::string& error) {
    if (big_ && start_ == end_) {
        // The big frame before has been used and nothing else came with it. The next one is
        // likely big as well (a response in big blocks): what has arrived of it is received
        // into the shared buffer, but the buffer is given back rather than held through a
        // wait for the peer.
        IoStatus status = receive_ready();
        if (status != IoStatus::kOk) {
            return status;
        }
    }
    IoStatus status = fill(protocol::kHeaderSize, timeout);
    if (status != IoStatus::kOk) {
        return status;
    }
    auto decoded = protocol::decode_header(
        std::string_view(data() + start_, protocol::kHeaderSize), error);
    if (!decoded) {
        return IoStatus::kError;
    }
    status = fill(protocol::kHeaderSize + decoded->length, timeout);
    if (status != IoStatus::kOk) {
        return status;
    }
    header = *decoded;
    payload = std::string_view(data() + start_ + protocol::kHeaderSize, header.length);
    start_ += protocol::kHeaderSize + header.length;
    return IoStatus::kOk;
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
