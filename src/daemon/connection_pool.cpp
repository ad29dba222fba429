#include "daemon/connection_pool.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace wsgi::daemon {

bool idle_connection_usable(int fd) {
    pollfd entry{fd, POLLIN | POLLRDHUP, 0};
    int ready;
    do {
        ready = poll(&entry, 1, 0);
    } while (ready < 0 && errno == EINTR);
    // Between two conversations the daemon process sends nothing: anything readable is a
    // kRestart frame or the end of the connection.
    return ready == 0;
}

ConnectionPool::~ConnectionPool() {
    for (int fd : idle_) {
        close(fd);
    }
}

int ConnectionPool::take() {
    while (true) {
        int fd;
        {
            std::lock_guard lock(mutex_);
            if (idle_.empty()) {
                return -1;
            }
            // The most recently used first: the others may time out or be closed unused.
            fd = idle_.back();
            idle_.pop_back();
        }
        if (idle_connection_usable(fd)) {
            return fd;
        }
        close(fd);
    }
}

void ConnectionPool::put(int fd) {
    {
        std::lock_guard lock(mutex_);
        if (idle_.size() < capacity_) {
            idle_.push_back(fd);
            return;
        }
    }
    close(fd);
}

std::size_t ConnectionPool::size() {
    std::lock_guard lock(mutex_);
    return idle_.size();
}

}  // namespace wsgi::daemon
