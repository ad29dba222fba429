#pragma once
// The Channel of daemon mode, inside the daemon process: the request body is pulled from the
// Apache child with kRead frames as the application reads wsgi.input (so nothing is buffered
// whole and an application that never reads its body cannot deadlock the two ends), and the
// response goes back as kHeaders / kData / kEnd frames.

#include <httpd.h>

#include <atomic>
#include <optional>

#include "daemon/protocol.hpp"
#include "daemon/request_meta.hpp"
#include "daemon/socket_io.hpp"
#include "wsgi/channel.hpp"

namespace wsgi::daemon {

class DaemonChannel final : public wsgi::Channel {
public:
    // `fd` is the accepted connection (not owned); `timeout` bounds every wait on it
    // (socket-timeout); log lines go to `server`'s error log.
    DaemonChannel(int fd, const DaemonRequest& request, server_rec* server, Millis timeout);

    ReadStatus read_body(std::string& out, std::size_t max, int& error_status,
                         std::string& error) override;
    bool head_only() const override { return request_.head_only; }
    void set_headers(int status, const std::string& status_line, const wsgi::HeaderList& headers,
                     std::optional<std::int64_t> content_length) override;
    bool send_body(const char* data, std::size_t length, wsgi::Pass pass,
                   std::string& error) override;
    bool send_file(int fd, std::int64_t offset, std::int64_t length, bool use_sendfile, bool end,
                   std::string& error) override;
    bool finish(std::string& error) override;
    void abort() override;
    void log(int level, const std::string& line) override;

    // Answers with an HTTP status when nothing was sent yet (kError frame).
    void send_error(int status, const std::string& message);
    // Tells the Apache child to send the request again (kRestart frame).
    void send_restart();

    // From another thread, for a request stuck past request-timeout: answers 504 if no
    // headers went out yet, then shuts the connection down so the Apache child is released
    // whatever the stuck application thread does later.
    void abandon_with_timeout();

    // Whether the conversation ended cleanly (a last frame went out, no write or read on the
    // connection failed, not abandoned), so the connection can carry the next request.
    bool reusable() const { return ended_ && !broken_; }

private:
    bool write(std::string_view frame, std::string_view more, std::string& error);
    bool flush_headers(std::string& error);

    int fd_;
    const DaemonRequest& request_;
    server_rec* server_;
    Millis timeout_;
    std::optional<protocol::HeadersFrame> pending_headers_;
    std::atomic<bool> headers_sent_{false};
    bool ended_ = false;
    bool body_done_ = false;
    std::atomic<bool> broken_{false};
};

}  // namespace wsgi::daemon
