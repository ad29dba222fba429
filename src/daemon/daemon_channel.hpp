#pragma once
// The Channel of daemon mode, inside the daemon process: the request body is pulled from the
// Apache child with kRead frames as the application reads wsgi.input (so nothing is buffered
// whole and an application that never reads its body cannot deadlock the two ends), and the
// response goes back as kHeaders / kData / kEnd frames.
//
// Frames are gathered in an output buffer and written together, in one system call, when
// they must go: the headers wait for the first body data (PEP 3333), the items of a list wait
// for the last one, and a small last block is deferred until the request has given up the GIL
// (defer_last_block), so a small response costs one write and no extra GIL hand-off.

#include <httpd.h>

#include <atomic>
#include <mutex>
#include <optional>

#include "daemon/protocol.hpp"
#include "daemon/request_meta.hpp"
#include "daemon/socket_io.hpp"
#include "wsgi/channel.hpp"

namespace wsgi::daemon {

class DaemonChannel final : public wsgi::Channel {
public:
    // `fd` is the accepted connection (not owned), read through `reader` (which read the
    // request frame); `timeout` bounds every wait on it (socket-timeout); log lines go to
    // `server`'s error log.
    DaemonChannel(int fd, FrameReader& reader, const DaemonRequest& request, server_rec* server,
                  Millis timeout);

    ReadStatus read_body(std::string& out, std::size_t max, int& error_status,
                         std::string& error) override;
    ReadStatus read_body_into(char* buffer, std::size_t max, std::size_t& length, bool wait,
                              int& error_status, std::string& error) override;
    bool head_only() const override { return request_.head_only; }
    void set_headers(int status, const std::string& status_line, const wsgi::HeaderList& headers,
                     std::optional<std::int64_t> content_length) override;
    bool send_body(const char* data, std::size_t length, wsgi::Pass pass,
                   std::string& error) override;
    bool send_file(int fd, std::int64_t offset, std::int64_t length, bool use_sendfile, bool end,
                   std::string& error) override;
    bool finish(std::string& error) override;
    bool defer_last_block(const char* data, std::size_t length) override;
    void flush_deferred() override;
    void abort() override;
    void log(int level, const std::string& line) override;

    // The first body bytes, sent with the request (kWithBody); `complete`: all of the body.
    // `data` must stay valid until the application has read it: it is a view into the
    // reader's buffer, which is not read again before then.
    void set_early_body(std::string_view data, bool complete) {
        early_body_ = sent_early_body_ = data;
        early_body_complete_ = complete;
    }

    // Answers with an HTTP status when nothing was sent yet (kError frame).
    void send_error(int status, const std::string& message);
    // Tells the Apache child to send the request again (kRestart frame), handing back the body
    // bytes that came with the request (a child may have freed them). Only before the
    // application read more of the body than came with the request (the bytes are a view into
    // the reader's buffer; they are forgotten when it reads again).
    void send_restart();

    // From another thread, for a request stuck past request-timeout: answers 504 if no frame
    // went out yet and none is being written, then shuts the connection down so the Apache
    // child is released whatever the stuck application thread does later. Never waits for
    // the request thread (it only tries write_mutex_).
    void abandon_with_timeout();

    // Whether the conversation ended cleanly (a last frame went out, no write or read on the
    // connection failed, not abandoned), so the connection can carry the next request.
    bool reusable() const { return ended_ && !broken_; }

private:
    // Writes the output buffer, then `frame` and `more`, in one sendmsg() where the socket
    // takes them; empties the buffer.
    bool write(std::string_view frame, std::string_view more, std::string& error);
    // Puts the pending headers, if any, in the output buffer.
    void commit_headers();
    // Asks the Apache child for up to `max` body bytes and reads its answer: kData with
    // `payload` (a view into the reader's buffer), kEof or kError.
    ReadStatus request_body(std::size_t max, std::string_view& payload, int& error_status,
                            std::string& error);

    int fd_;
    FrameReader& reader_;
    const DaemonRequest& request_;
    server_rec* server_;
    Millis timeout_;
    std::optional<protocol::HeadersFrame> pending_headers_;
    std::string out_;        // frames waiting to be written
    std::string_view early_body_;  // body bytes sent with the request, not yet read
    std::string_view sent_early_body_;  // all of the body bytes sent with the request, until
                                        // the reader's buffer is read into again
    bool early_body_complete_ = false;
    bool deferred_ = false;  // out_ holds the deferred end of the response
    std::atomic<bool> headers_sent_{false};  // committed to the output (perhaps not written)
    std::atomic<bool> wrote_{false};         // some frame of the response went out
    bool ended_ = false;
    bool body_done_ = false;
    std::atomic<bool> broken_{false};
    // Held by the request thread while it writes a frame, so that abandon_with_timeout()
    // cannot put its 504 in the middle of one or after the last one.
    std::mutex write_mutex_;
};

}  // namespace wsgi::daemon
