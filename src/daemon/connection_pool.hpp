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

    // An idle connection that still looks usable, now owned by the caller, or -1. A
    // connection that has something to read (the daemon process sent kRestart, or closed it)
    // or is in error is stale: it is closed and the next one is tried.
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

// Whether `fd`, an idle connection, has neither data nor a hang-up or error pending (poll()
// with no wait).
bool idle_connection_usable(int fd);

}  // namespace wsgi::daemon
