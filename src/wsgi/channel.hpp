#pragma once
// Where a request's body comes from and where its response goes: Apache itself (embedded
// mode, EmbeddedChannel) or the Apache child at the other end of a daemon socket (daemon mode,
// daemon::DaemonChannel). The WSGI adapter, wsgi.input and wsgi.errors work only through this
// interface, so PEP 3333 has one code path in both modes.
//
// Every method may block: call them without the GIL. One request thread uses a channel at a
// time (wsgi.input refuses concurrent reads).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wsgi::wsgi {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// How a block of body data is passed on.
enum class Pass {
    kFlush,    // stream it to the client now (PEP 3333: no buffering of yielded blocks)
    kNoFlush,  // more data follows at once (the items of a list or tuple)
    kEos,      // the last block: data and end of stream together, so Apache can still set
               // Content-Length itself for a one-brigade response
};

class Channel {
public:
    virtual ~Channel() = default;

    enum class ReadStatus { kData, kEof, kError };
    // Appends up to `max` bytes of the request body to `out`. On kError, `error_status` is
    // the HTTP status the failure maps to (413, 400, 408...) and `error` says why.
    virtual ReadStatus read_body(std::string& out, std::size_t max, int& error_status,
                                 std::string& error) = 0;

    // Reads up to `max` bytes of the request body into `buffer` (room for `max`), setting
    // `length` to the count; otherwise as read_body(). wsgi.input reads straight into the
    // bytes object the application gets through this. With `wait` false it only takes what
    // has arrived already and never blocks, so it may be called with the GIL held: kData
    // with `length` 0 then means nothing is ready yet. The default copies through
    // read_body() and, unable to tell what is ready, reads nothing without `wait`; a channel
    // that can copy from its source at once overrides it.
    virtual ReadStatus read_body_into(char* buffer, std::size_t max, std::size_t& length,
                                      bool wait, int& error_status, std::string& error) {
        length = 0;
        if (!wait) {
            return ReadStatus::kData;
        }
        std::string data;
        ReadStatus status = read_body(data, max, error_status, error);
        length = std::min(data.size(), max);
        if (length > 0) {
            std::memcpy(buffer, data.data(), length);
        }
        return status;
    }

    // True for a HEAD request whose body Apache will drop anyway.
    virtual bool head_only() const = 0;

    // Hands the validated status and headers over; they go out with the first body data.
    // `content_length` is the declared (or computed) Content-Length, if any.
    virtual void set_headers(int status, const std::string& status_line, const HeaderList& headers,
                             std::optional<std::int64_t> content_length) = 0;

    // Sends body bytes (and the headers first, the first time). Returns false when the client
    // is gone; `error` says why.
    virtual bool send_body(const char* data, std::size_t length, Pass pass,
                           std::string& error) = 0;

    // Sends `length` bytes of the regular file `fd` from `offset`; the channel may keep its
    // own duplicate of the descriptor until the bytes are out. `end` also ends the response.
    virtual bool send_file(int fd, std::int64_t offset, std::int64_t length, bool use_sendfile,
                           bool end, std::string& error) = 0;

    // Ends a complete response (no-op after an end already sent).
    virtual bool finish(std::string& error) = 0;

    // Takes the last block of a response (data and its end) without blocking, to be passed
    // on by flush_deferred() once the request no longer holds the GIL. Returns false when the
    // channel does not defer (the caller then uses send_body). May be called with the GIL.
    virtual bool defer_last_block(const char* /*data*/, std::size_t /*length*/) { return false; }

    // Passes on what defer_last_block() took. Without the GIL. No-op when nothing is deferred.
    virtual void flush_deferred() {}

    // Cuts a response whose headers went out: the client must see it as incomplete.
    virtual void abort() = 0;

    // Logs one line at an httpd level (APLOG_ERR...) against this request.
    virtual void log(int level, const std::string& line) = 0;
};

}  // namespace wsgi::wsgi
