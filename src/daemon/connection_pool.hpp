#pragma once
// In an Apache child: the connections to a daemon process group kept open between requests,
// so that a request does not pay for a connect() and an accept() (issue 8). No httpd, no
// Python: call without the GIL, from any request thread.

#include <cstddef>
#include <mutex>
#include <vector>

namespace wsgi::daemon {

class ConnectionPool {
public:
    // Keeps at most `capacity` idle connections (one per Apache thread is enough: a thread
    // uses one at a time).
    explicit ConnectionPool(std::size_t capacity) : capacity_(capacity) {}
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;
    ~ConnectionPool();

    // The most recently used idle connection, now owned by the caller, or -1. Not checked
    // (that would cost a poll() per request): a daemon process that restarts or stops shuts
    // down the reading side of each idle connection before it sends the kRestart frame there
    // (send_restart() in daemon_listener.cpp), and one that dies has its descriptors closed, so
    // the first send on such a connection fails (EPIPE or ECONNRESET) before anything has read
    // it, and the caller sends the request again on a new connection (client.cpp).
    int take();

    // Gives a connection back after a conversation that ended cleanly; closes it when the
    // pool is full. Takes ownership of `fd`.
    void put(int fd);

    // Idle connections now, for tests.
    std::size_t size();

private:
    std::mutex mutex_;
    std::vector<int> idle_;
    std::size_t capacity_;
};

}  // namespace wsgi::daemon
