#pragma once
// Blocking frame I/O on a connected UNIX stream socket with per-call deadlines (poll), for
// both ends of the daemon protocol. No httpd, no Python: call without the GIL.

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "daemon/protocol.hpp"

namespace wsgi::daemon {

using Millis = std::chrono::milliseconds;

enum class IoStatus { kOk, kClosed, kTimeout, kError };

// Writes all of `parts`, in order, within `timeout` for each wait: one sendmsg() for all of
// them when the socket takes them at once (a frame header and its payload are one system call).
IoStatus write_all(int fd, std::span<const std::string_view> parts, Millis timeout);

inline IoStatus write_all(int fd, std::initializer_list<std::string_view> parts,
                          Millis timeout) {
    return write_all(fd, std::span<const std::string_view>(parts.begin(), parts.size()),
                     timeout);
}

// Writes all of `data` (and then `more`, if given) within `timeout` for each wait.
inline IoStatus write_all(int fd, std::string_view data, Millis timeout,
                          std::string_view more = {}) {
    return write_all(fd, {data, more}, timeout);
}

// Makes every blocking receive on `fd` (a blocking socket) give up after `timeout`
// (SO_RCVTIMEO), for a FrameReader built with `timed_socket`. False when the timeout cannot be
// set (then use a FrameReader without `timed_socket`).
bool set_receive_timeout(int fd, Millis timeout);

// Writes `data` in one sendmsg() with `fd` attached (SCM_RIGHTS), then waits as write_all for
// any rest. The peer must read it with read_frame(..., received_fds).
IoStatus write_with_fd(int socket, std::string_view data, int fd, Millis timeout);

// The pages behind MappedAllocator: `bytes` rounded up to whole pages, zero-filled.
void* map_pages(std::size_t bytes);
void unmap_pages(void* data, std::size_t bytes) noexcept;

// Allocates memory mapped on its own (mmap) and unmaps it when freed, for the big buffers of
// SharedBuffer. Such a buffer freed by malloc stays in the malloc arena of the thread that
// allocated it, with its pages (glibc gives a process up to 8 arenas per CPU, and returns an
// arena's free memory only past 128 KiB at its top); unmapped, the pages go back to the kernel
// at once. Measured on the benchmark's daemon configuration after its 1 MiB and POST points:
// about 1.5 MiB less over all processes. Sizes are rounded up to whole pages. Throws
// std::bad_alloc when mmap() fails. Any thread.
template <typename T>
struct MappedAllocator {
    using value_type = T;
    MappedAllocator() = default;
    template <typename U>
    MappedAllocator(const MappedAllocator<U>& /*other*/) noexcept {}
    T* allocate(std::size_t count) { return static_cast<T*>(map_pages(count * sizeof(T))); }
    void deallocate(T* data, std::size_t count) noexcept { unmap_pages(data, count * sizeof(T)); }
    template <typename U>
    bool operator==(const MappedAllocator<U>& /*other*/) const noexcept {
        return true;  // stateless: memory from one is freed by any other
    }
};

// A string whose memory is mapped on its own (MappedAllocator).
using MappedString = std::basic_string<char, std::char_traits<char>, MappedAllocator<char>>;

// A buffer from a set the process's threads share, for big data a thread holds for a while
// (a big frame in FrameReader, the first body bytes an Apache child sends with a request):
// taken on construction, given back on destruction, so that the process keeps a few such
// buffers (FrameReader::kMaxKeptBuffers, each up to FrameReader::kMaxKeptBuffer) rather than
// one per thread or per connection; one not kept is unmapped (MappedAllocator). Its size is
// what it last held (0 when new); resize it as needed. No GIL needed; any thread.
class SharedBuffer {
public:
    SharedBuffer();
    ~SharedBuffer();
    SharedBuffer(const SharedBuffer&) = delete;
    SharedBuffer& operator=(const SharedBuffer&) = delete;
    MappedString& get() { return buffer_; }
    const MappedString& get() const { return buffer_; }

private:
    MappedString buffer_;
};

// Reads the frames of one connection through a buffer, so that a frame and those the peer sent
// right after it come in one recvmsg() where they fit, and hands out each payload as a view into
// that buffer (no copy). On a socket set up by set_receive_timeout(), a read that has to wait
// is one blocking recvmsg(), not recvmsg(), poll() and recvmsg() again. No GIL needed; one
// thread at a time.
//
// Frames up to kSmallBuffer bytes are read into the caller's `storage`, which never grows past
// that. A bigger frame (a response block, a body read) is read into a buffer taken from one set
// shared by the process's threads, and given back once everything read into it has been handed
// out and used and nothing of the next frame has arrived (so not held through a wait for the
// peer between frames), or when the reader ends. So a process keeps about as many big buffers
// as it has threads passing big frames at the same moment, not one per thread: an Apache child
// has ThreadsPerChild threads, and each kept 64 KiB or more after its first big response.
class FrameReader {
public:
    // `fd` is not owned. `storage` holds the received bytes of small frames; it outlives the
    // reader and is kept by the caller (one per thread) so that its memory serves request after
    // request. With `timed_socket`, `fd` is a blocking socket whose SO_RCVTIMEO is the wait
    // given to next().
    FrameReader(int fd, std::string& storage, bool timed_socket);
    ~FrameReader();  // closes descriptors received and never taken; gives back a big buffer
    FrameReader(const FrameReader&) = delete;
    FrameReader& operator=(const FrameReader&) = delete;

    // Reads the next frame. `payload` stays valid until the next call or the reader's end.
    // kClosed when the peer closed first, with errno ECONNRESET when it closed with bytes of
    // ours unread, else errno 0; kError with `error` set for a malformed header.
    IoStatus next(protocol::FrameHeader& header, std::string_view& payload, Millis timeout,
                  std::string& error);

    // Before the first next(): one receive without waiting, for a connection that may have
    // nothing to read (an edge-triggered event for bytes read earlier, daemon_listener.hpp).
    // kOk when bytes arrived (next() goes on from them), kTimeout when none have, else as
    // next().
    IoStatus receive_now();

    // `hook` is called once, the first time the reader is about to wait for bytes that have
    // not arrived; until then it receives without waiting (one more receive, failing, before
    // the first wait). The daemon process quiets the connection's events then
    // (DaemonListener::quiet): a request that arrives in pieces wakes no other thread.
    void before_waiting(std::function<void()> hook) { before_waiting_ = std::move(hook); }
    // Calls that hook now, if it has not been called: the caller is about to ask the peer for
    // bytes (a kRead), so what answers is to be waited for whether or not it is quick.
    void waiting_soon();

    // The oldest descriptor passed with the frames read (SCM_RIGHTS) and not yet taken, now
    // owned by the caller; -1 when there is none.
    int take_fd();

    // Bytes received past the last frame returned: nonzero after a conversation means the peer
    // sent something it should not have, so the connection cannot be kept.
    std::size_t pending() const { return end_ - start_; }

    // Bytes of a frame (header included) that `storage` takes; a bigger one goes through a
    // shared buffer. Also the size of one receive into `storage`. One page: every thread of
    // an Apache child has such a buffer, and 16 KiB here kept 12 KiB more per thread
    // (1-2 MiB over the children of the benchmark's configuration) for frames that are
    // mostly a few hundred bytes (headers, small responses, read requests).
    static constexpr std::size_t kSmallBuffer = 4 * 1024;
    // A shared buffer grown past this for a bigger frame is freed when given back, not kept.
    static constexpr std::size_t kMaxKeptBuffer = 256 * 1024 + 64;
    // How many shared buffers the process keeps for later frames at most.
    static constexpr std::size_t kMaxKeptBuffers = 8;
    // Shared buffers the process keeps now, for tests; any thread.
    static std::size_t kept_buffers();

private:
    // Makes at least `needed` bytes from start_ available in the buffer.
    IoStatus fill(std::size_t needed, Millis timeout);
    // Moves the pending bytes into a shared buffer of at least `needed` bytes. Throws
    // std::bad_alloc when there is no memory for it, leaving the reader as it was.
    void take_big_buffer(std::size_t needed);
    // Gives the shared buffer back (nothing pending in it) and reads into `storage` again.
    void give_back_big_buffer();
    // Where bytes are received: the shared buffer while there is one, else `storage`.
    char* data() { return big_ ? big_->get().data() : small_.data(); }
    std::size_t size() const { return big_ ? big_->get().size() : small_.size(); }
    // With the shared buffer in use and nothing pending: receives what has arrived into it,
    // or gives it back when nothing has. kOk either way; else as fill().
    IoStatus receive_ready();

    int fd_;
    std::string& small_;
    std::optional<SharedBuffer> big_;  // while a big frame needs it; bytes are received there
    bool timed_;
    std::function<void()> before_waiting_;  // cleared once called
    std::size_t start_ = 0;  // first byte not yet handed out
    std::size_t end_ = 0;    // end of the bytes received
    std::deque<int> fds_;
};

// A human-readable name for a status ("timed out", "closed by peer", errno text).
std::string describe(IoStatus status, int saved_errno);

}  // namespace wsgi::daemon
