#include "daemon/daemon_listener.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "daemon/protocol.hpp"
#include "daemon/socket_io.hpp"

namespace wsgi::daemon {
namespace {

// epoll_event.data of the listening socket; connections count up from 1.
constexpr std::uint64_t kListenId = 0;

// The most connections taken from the backlog at once beside the one a thread serves.
constexpr int kMaxAdopted = 256;

// How often the watcher looks again while every thread is busy.
constexpr int kWatchMillis = 20;

// What the epoll set watches. The listening socket: one-shot, re-armed once the event was
// taken (rearm_listen). A kept connection: edge-triggered, an event when bytes (or the end)
// arrive from now on, arrivals merged while one is waiting to be taken; for ADD and MOD, bytes
// that have arrived already give one at once. A quiet()ed connection: no events asked for;
// EPOLLHUP and EPOLLERR still come, once, and are noted as pending.
constexpr std::uint32_t kListenEvents = EPOLLIN | EPOLLONESHOT;
constexpr std::uint32_t kConnectionEvents = EPOLLIN | EPOLLRDHUP | EPOLLET;
constexpr std::uint32_t kQuietEvents = EPOLLONESHOT;

bool watch_fd(int epoll_fd, int op, int fd, std::uint64_t id, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = id;
    return epoll_ctl(epoll_fd, op, fd, &event) == 0;
}

bool arm(int epoll_fd, int op, int fd, std::uint64_t id) {
    return watch_fd(epoll_fd, op, fd, id, kConnectionEvents);
}

// Whether nothing is waiting to be read on `fd` (not the end either).
bool nothing_arrived(int fd) {
    char byte = 0;
    ssize_t got = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// How long handing a connection back may wait for room to send the body bytes back.
constexpr Millis kRestartSendWait(100);

// Tells the Apache child on `fd`, which no thread has read from since its last request, to
// send its request again elsewhere. Reading is shut down first: a request the child sends from
// now on fails to go out (EPIPE) and the child still has it. One sent before is read here, and
// the body bytes that came with it go back on the kRestart frame, since the child frees them
// once they have gone out (protocol.hpp). All that was sent is read, however much: after the
// shutdown nothing more can come, so it is what the socket held. Never blocks for long: with
// nothing answered on the connection, the child's side has room for the frame.
void send_restart(int fd) {
    (void)shutdown(fd, SHUT_RD);
    std::string queued;
    char chunk[16 * 1024];
    while (true) {
        ssize_t got = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (got > 0) {
            queued.append(chunk, static_cast<std::size_t>(got));
        } else if (got < 0 && errno == EINTR) {
            continue;
        } else {
            break;  // all of it read (EAGAIN or end of file), or the connection broke
        }
    }
    std::string_view body = protocol::early_body_of(queued).value_or(std::string_view());
    std::string header =
        protocol::encode_data_header(protocol::FrameType::kRestart, body.size(), 0);
    (void)write_all(fd, header, kRestartSendWait, body);
}

}  // namespace

DaemonListener::~DaemonListener() {
    stop();
    if (watcher_.joinable()) {
        all_busy_.notify_all();
        watcher_.join();
    }
    if (epoll_fd_ >= 0) {
        close(epoll_fd_);
    }
}

bool DaemonListener::open(int listen_fd, int threads, bool bounce_when_busy, std::string& error) {
    listen_fd_ = listen_fd;
    // A listen event may be taken by another process first: accept must not block then.
    int flags = fcntl(listen_fd, F_GETFL);
    if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        error = std::string("fcntl(O_NONBLOCK) on the listening socket: ") + std::strerror(errno);
        return false;
    }
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0 || !watch_fd(epoll_fd_, EPOLL_CTL_ADD, listen_fd, kListenId, kListenEvents)) {
        error = std::string("epoll on the listening socket: ") + std::strerror(errno);
        return false;
    }
    // With one thread per process a single busy request would otherwise hold every request
    // sent on the process's kept connections; with more threads, only a saturated process.
    bounce_ = bounce_when_busy && threads > 0;
    if (bounce_) {
        // A thread function: nothing may escape it (std::terminate).
        watcher_ = std::thread([this]() noexcept {
            try {
                watch();
            } catch (...) {
                // Out of memory: requests on kept connections then wait for a free thread.
            }
        });
    }
    return true;
}

bool DaemonListener::rearm_listen() {
    return watch_fd(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, kListenId, kListenEvents);
}

void DaemonListener::became_busy() {
    if (--idle_ == 0 && bounce_) {
        std::lock_guard lock(watch_mutex_);
        all_busy_.notify_one();
    }
}

std::optional<DaemonListener::Connection> DaemonListener::next(Millis wait) {
    ++idle_;
    while (!stopping_) {
        if (listen_parked_.exchange(false)) {
            rearm_listen();
        }
        epoll_event event{};
        int ready = epoll_wait(epoll_fd_, &event, 1, static_cast<int>(wait.count()));
        if (ready <= 0) {
            break;  // timeout or EINTR: let the caller look at the process's state
        }
        if (event.data.u64 == kListenId) {
            if (stopping_) {
                break;  // leave the connection to the other processes or the next generation
            }
            int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                int saved_errno = errno;
                if (saved_errno != EAGAIN && saved_errno != EWOULDBLOCK && saved_errno != EINTR &&
                    saved_errno != ECONNABORTED) {
                    // The connection stays in the backlog, and the listen event ready.
                    if (accept_error_) {
                        accept_error_(saved_errno);
                    }
                    std::this_thread::sleep_for(kAcceptRetry);
                }
                rearm_listen();
                continue;  // another process took it, or try again
            }
            size_buffers(fd);
            std::lock_guard lock(mutex_);
            std::uint64_t id = next_id_++;
            connections_.emplace(id, Entry{fd, true, false, false});
            became_busy();
            adopt_backlog();
            rearm_listen();
            return Connection{id, fd, false};
        }
        std::lock_guard lock(mutex_);
        auto it = connections_.find(event.data.u64);
        if (it == connections_.end()) {
            continue;  // closed by stop() or the watcher meanwhile
        }
        if (it->second.busy) {
            it->second.pending = true;  // its thread looks again when it releases it
            ++busy_events_;
            continue;
        }
        it->second.busy = true;
        became_busy();
        return Connection{it->first, it->second.fd, !std::exchange(it->second.adopted, false)};
    }
    --idle_;
    return std::nullopt;
}

void DaemonListener::size_buffers(int fd) const {
    if (send_buffer_size_ > 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer_size_, sizeof(send_buffer_size_));
    }
    if (receive_buffer_size_ > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_size_,
                   sizeof(receive_buffer_size_));
    }
}

void DaemonListener::adopt_backlog() {
    // Each connection in the backlog carries a request sent before any that reaches a kept
    // connection from now on. Accepted one per listen event, they would wait a turn of the
    // whole ready list each (a queue of requests on kept connections ahead of every accept): a
    // burst of new connections, as after the Apache children lost theirs, then waits for
    // hundreds of milliseconds. Accepted now and registered, they queue with the kept
    // connections in the order they become ready. A process of a group with others adopts
    // nothing: the backlog is theirs too, and an adopted connection waiting while every thread
    // is busy would be handed back (kRestart) by the watcher rather than wait for an idle
    // process, costing the Apache child one of its tries.
    if (stopping_ || bounce_) {
        return;  // stopping: stop() set it before it took mutex_, what it closed stays closed
    }
    for (int taken = 0; taken < kMaxAdopted; ++taken) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            return;  // the backlog is empty (EAGAIN)
        }
        size_buffers(fd);
        std::uint64_t id = next_id_++;
        if (!arm(epoll_fd_, EPOLL_CTL_ADD, fd, id)) {
            // No memory for the epoll entry (ENOMEM, max_user_watches): the Apache child is
            // told to send the request again (kRestart); the rest stays in the backlog.
            send_restart(fd);
            close(fd);
            return;
        }
        connections_.emplace(id, Entry{fd, false, true, true});
    }
}

void DaemonListener::close_with_restart(std::unordered_map<std::uint64_t, Entry>::iterator it) {
    send_restart(it->second.fd);
    if (it->second.registered) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
    }
    close(it->second.fd);
    connections_.erase(it);
}

void DaemonListener::release(const Connection& connection, After after) {
    std::lock_guard lock(mutex_);
    auto it = connections_.find(connection.id);
    if (it == connections_.end()) {
        return;
    }
    Entry& entry = it->second;
    if (after == After::kKeep && stopping_) {
        close_with_restart(it);
        return;
    }
    if (after == After::kKeep) {
        if (entry.registered && !entry.quiet && !entry.pending) {
            entry.busy = false;  // still armed: what arrives from now on gives an event
            return;
        }
        // Added, turned back on, or looked at again: an event at once if bytes are waiting.
        if (arm(epoll_fd_, entry.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, entry.fd,
                connection.id)) {
            entry.registered = true;
            entry.busy = false;
            entry.pending = false;
            entry.quiet = false;
        } else {
            // No memory for the epoll entry: the Apache child may already have sent its next
            // request, which goes elsewhere.
            close_with_restart(it);
        }
        return;
    }
    if (entry.registered) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, entry.fd, nullptr);
    }
    close(entry.fd);
    connections_.erase(it);
}

void DaemonListener::quiet(const Connection& connection) {
    std::lock_guard lock(mutex_);
    auto it = connections_.find(connection.id);
    if (it == connections_.end() || !it->second.registered || it->second.quiet) {
        return;
    }
    if (watch_fd(epoll_fd_, EPOLL_CTL_MOD, it->second.fd, connection.id, kQuietEvents)) {
        it->second.quiet = true;
    }
}

void DaemonListener::stop() {
    if (stopping_.exchange(true)) {
        return;
    }
    {
        std::lock_guard lock(mutex_);
        for (auto it = connections_.begin(); it != connections_.end();) {
            auto current = it++;
            if (!current->second.busy) {
                close_with_restart(current);
            }
        }
    }
    std::lock_guard lock(watch_mutex_);
    all_busy_.notify_all();
}

std::size_t DaemonListener::busy_events() {
    std::lock_guard lock(mutex_);
    return busy_events_;
}

std::size_t DaemonListener::kept_count() {
    std::lock_guard lock(mutex_);
    return connections_.size();
}

void DaemonListener::watch() {
    while (!stopping_) {
        {
            std::unique_lock lock(watch_mutex_);
            all_busy_.wait_for(lock, Millis(250), [this] { return idle_ == 0 || stopping_; });
        }
        while (idle_ == 0 && !stopping_) {
            epoll_event events[8];
            int ready = epoll_wait(epoll_fd_, events, 8, kWatchMillis);
            for (int i = 0; i < ready; ++i) {
                if (events[i].data.u64 == kListenId) {
                    // Not accepted here: a thread that becomes idle re-arms it, unless one
                    // became idle meanwhile (it checked the flag before it was set).
                    listen_parked_ = true;
                    if (idle_ > 0 && listen_parked_.exchange(false)) {
                        rearm_listen();
                    }
                    continue;
                }
                std::lock_guard lock(mutex_);
                auto it = connections_.find(events[i].data.u64);
                if (it == connections_.end()) {
                    continue;
                }
                if (it->second.busy) {
                    it->second.pending = true;  // its thread looks again when it releases it
                    ++busy_events_;
                } else if (idle_ > 0) {
                    arm(epoll_fd_, EPOLL_CTL_MOD, it->second.fd, it->first);  // a thread is free
                } else if (nothing_arrived(it->second.fd)) {
                    // The event was for bytes the thread that served it last read after the
                    // event was taken: it stays armed, idle.
                } else {
                    close_with_restart(it);  // every thread busy: serve it elsewhere
                }
            }
        }
    }
}

}  // namespace wsgi::daemon
