#pragma once
// Inside a daemon process: hands the request threads the connections to serve, both new ones
// from the group's listening socket and the connections Apache children keep between requests.
// No httpd, no Python: call without the GIL.
//
// The threads wait in one epoll instance on the listening socket and on every kept
// connection, so that an idle kept connection never pins a thread. The listening socket is
// registered EPOLLONESHOT: exactly one thread takes each listen event. Kept connections are
// edge-triggered (EPOLLET) and stay armed, so that giving one back after its request costs no
// system call (re-arming a one-shot entry cost an epoll_ctl per request). The price is the
// events that come while a thread serves the connection. One that a thread takes then is
// noted (`pending`) and the connection looked at again when it is released. One that reaches
// a thread only after the release may be for bytes the serving thread read meanwhile, so a
// kept connection handed out may have nothing to read (Connection::kept). And each wakes a
// thread for nothing: a request thread about to wait for more bytes on its connection (a
// request arriving in pieces, a body asked for with kRead) quiet()s it until release().
//
// A thread that takes a listen event serves the connection it accepts and registers the rest
// of the backlog with the kept connections, so that a burst of new connections queues in
// arrival order rather than one accept per turn of the ready list. In a group of several
// processes a thread accepts one connection per listen event instead: a process takes no
// more new connections than it has idle threads, and a process whose threads are all busy
// leaves the backlog to the group's other processes.
//
// With several processes in the group (`bounce_when_busy`), a watcher thread sees requests
// that arrive on idle kept connections while every thread is busy and hands them back with a
// kRestart frame, so that the Apache child sends them again on a new connection which an
// idle process accepts (without it a kept connection would tie a request to a busy process).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "daemon/socket_io.hpp"

namespace wsgi::daemon {

class DaemonListener {
public:
    // One connection taken by a request thread, until release().
    struct Connection {
        std::uint64_t id = 0;
        int fd = -1;
        // A kept connection: its peer was checked when it was accepted. Its event may be for
        // bytes already read by the thread that served its last request: the caller receives
        // without waiting first, and releases it with kKeep when nothing has arrived.
        bool kept = false;
    };

    // What release() does with a connection once its request was served.
    enum class After {
        kKeep,   // the conversation ended cleanly: wait for the next request on it
        kClose,  // close it (an error, a restart frame already sent, the peer left)
    };

    DaemonListener() = default;
    DaemonListener(const DaemonListener&) = delete;
    DaemonListener& operator=(const DaemonListener&) = delete;
    ~DaemonListener();

    // Starts watching `listen_fd` (made non-blocking: every process of the group accepts on
    // it). `threads` is the number of request threads. Returns false with `error` set when
    // epoll cannot be set up. Call once, before the request threads start.
    bool open(int listen_fd, int threads, bool bounce_when_busy, std::string& error);

    // Request threads: waits up to `wait` for a connection with work. nullopt on a timeout or
    // once stop() was called; the caller loops.
    std::optional<Connection> next(Millis wait);

    // How long a thread waits before it accepts again after accept() failed with the backlog
    // not empty (EMFILE, ENFILE: out of descriptors; ENOBUFS, ENOMEM). Trying again at once
    // would spin every idle thread on accept(), since the listen event stays ready.
    static constexpr Millis kAcceptRetry{100};

    // Called by a request thread, in next(), with errno each time accepting a connection fails
    // that way (then it waits kAcceptRetry). Set before open(); may be empty.
    void on_accept_error(std::function<void(int)> handler) { accept_error_ = std::move(handler); }

    // send-buffer-size= and receive-buffer-size= (bytes; 0: the system's default): SO_SNDBUF
    // (responses to the Apache child) and SO_RCVBUF of every accepted connection, which do not
    // inherit the listening socket's. Set before open().
    void set_buffer_sizes(int send, int receive) {
        send_buffer_size_ = send;
        receive_buffer_size_ = receive;
    }

    // Request threads: gives a connection back after its request. kKeep watches it again
    // (no system call for a connection already in the epoll set, unless it was quiet()ed or a
    // thread took an event for it meanwhile), unless the listener is stopping: then it gets a
    // kRestart frame and is closed.
    void release(const Connection& connection, After after);

    // The request thread holding `connection`, before it waits for more bytes on it (the
    // rest of its request, a body asked for with kRead): no thread is woken for what arrives
    // on it until release(). One epoll_ctl the first time for a connection in the epoll set;
    // none after, or for a connection not yet in it.
    void quiet(const Connection& connection);

    // Any thread, once the process decides to stop or restart: no more connections are
    // taken; idle kept connections get a kRestart frame (a request the Apache child sends at
    // the same moment is sent again elsewhere) and are closed at once. Connections being
    // served are closed when released. Idempotent.
    void stop();

    // Kept connections open now (idle or in use), for tests and logging.
    std::size_t kept_count();

    // Events taken for a connection while a thread was serving it (a thread woken for
    // nothing) since open(), for tests.
    std::size_t busy_events();

private:
    struct Entry {
        int fd = -1;
        bool busy = true;
        bool registered = false;  // added to the epoll set once
        bool adopted = false;     // accepted by adopt_backlog(), its first request not yet served
        bool pending = false;     // an event came while busy: look at it again on release
        bool quiet = false;       // busy and its events off (quiet()): turn them on on release
    };

    void watch();
    bool rearm_listen();
    // With mutex_ held, after a listen event: accepts the rest of the backlog into the epoll set.
    void adopt_backlog();
    // With mutex_ held: sends kRestart, unregisters and closes.
    void close_with_restart(std::unordered_map<std::uint64_t, Entry>::iterator it);
    void became_busy();

    int epoll_fd_ = -1;
    int listen_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<int> idle_{0};             // threads waiting in next()
    std::atomic<bool> listen_parked_{false};  // the watcher took the listen event: re-arm later
    std::mutex mutex_;                     // guards connections_, next_id_, busy_events_
    std::unordered_map<std::uint64_t, Entry> connections_;
    std::uint64_t next_id_ = 1;
    std::size_t busy_events_ = 0;          // guarded by mutex_
    bool bounce_ = false;
    std::function<void(int)> accept_error_;
    int send_buffer_size_ = 0;
    int receive_buffer_size_ = 0;
    void size_buffers(int fd) const;
    std::mutex watch_mutex_;
    std::condition_variable all_busy_;
    std::thread watcher_;
};

}  // namespace wsgi::daemon
