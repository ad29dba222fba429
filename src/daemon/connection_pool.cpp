#include "daemon/connection_pool.hpp"

#include <unistd.h>

namespace wsgi::daemon {

ConnectionPool::~ConnectionPool() {
    for (int fd : idle_) {
        close(fd);
    }
}

int ConnectionPool::take() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) {
        return -1;
    }
    // The most recently used first: the others may time out or be closed unused.
    int fd = idle_.back();
    idle_.pop_back();
    return fd;
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
