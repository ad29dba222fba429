#include "apache/log_id.hpp"

#include <apr_base64.h>
#include <apr_time.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace wsgi::apache {
namespace {

std::atomic<pid_t> g_process_id{0};  // 0: not known in this process yet

pid_t process_id() noexcept {
    pid_t pid = g_process_id.load(std::memory_order_relaxed);
    if (pid == 0) {
        pid = getpid();
        g_process_id.store(pid, std::memory_order_relaxed);
    }
    return pid;
}

}  // namespace

int generate_log_id(const conn_rec* c, const request_rec* r, const char** id) noexcept {
    std::uint64_t value = r != nullptr && r->request_time != 0
                              ? static_cast<std::uint64_t>(r->request_time)
                              : static_cast<std::uint64_t>(apr_time_now());
    const auto pid = static_cast<std::uint64_t>(static_cast<std::uint32_t>(process_id()));
    value ^= pid << 40;
    value ^= (pid >> 24) << 56;
    value ^= static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(c->current_thread))
             << 32;
    const int length = apr_base64_encode_len(sizeof(value));  // counts the final '\0'
    auto* encoded = static_cast<char*>(apr_palloc(r != nullptr ? r->pool : c->pool, length));
    apr_base64_encode(encoded, reinterpret_cast<const char*>(&value), sizeof(value));
    encoded[length - 2] = '\0';  // the padding '=' of 8 bytes
    *id = encoded;
    return OK;
}

void forget_process_id_on_fork() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        pthread_atfork(nullptr, nullptr,
                       [] { g_process_id.store(0, std::memory_order_relaxed); });
    });
}

}  // namespace wsgi::apache
