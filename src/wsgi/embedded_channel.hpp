#pragma once
// The Channel of embedded mode: the request body from Apache's input filters, the response
// through its output filters (so Content-Length, chunking, HEAD, mod_deflate and the access
// log all behave as for any Apache handler).

#include <httpd.h>
#include <apr_buckets.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "apache/socket_bucket.hpp"
#include "wsgi/channel.hpp"

namespace wsgi::wsgi {

class EmbeddedChannel final : public Channel {
public:
    explicit EmbeddedChannel(request_rec* r);

    ReadStatus read_body(std::string& out, std::size_t max, int& error_status,
                         std::string& error) override;
    ReadStatus read_body_into(char* buffer, std::size_t max, std::size_t& length, bool wait,
                              int& error_status, std::string& error) override;
    bool head_only() const override { return r_->header_only != 0; }
    void set_headers(int status, const std::string& status_line, const HeaderList& headers,
                     std::optional<std::int64_t> content_length) override;
    bool send_body(const char* data, std::size_t length, Pass pass, std::string& error) override;
    bool send_file(int fd, std::int64_t offset, std::int64_t length, bool use_sendfile, bool end,
                   std::string& error) override;
    bool finish(std::string& error) override;
    bool defer_last_block(const char* data, std::size_t length) override;
    void flush_deferred() override;
    void abort() override;
    void log(int level, const std::string& line) override;

    // Reads up to `max` bytes of the request body as read_body_into() does, but without
    // copying them where Apache's buckets own their data: the buckets are moved to `hold`
    // (the caller's brigade, from the connection's bucket allocator; transient ones are set
    // aside first), a view of each piece is appended to `pieces` and `length` is their total.
    // The views stay valid until `hold` is cleaned up. On kError the pieces appended before
    // the error are valid data.
    ReadStatus read_body_held(std::size_t max, bool wait, apr_bucket_brigade* hold,
                              std::vector<std::string_view>& pieces, std::size_t& length,
                              int& error_status, std::string& error);

    // Whether read_body_into has the socket read straight into its buffer (reads of 8000
    // bytes or more): the body comes through the module's socket bucket, with a
    // Content-Length, and only through filters that pass it on unchanged (HTTP_IN,
    // mod_reqtimeout, mod_logio). Looked up once per request; the request's thread.
    bool reads_in_place();

    request_rec* request() const { return r_; }

    // How long each write of the response to the client may wait (response-socket-timeout
    // of a daemon process group): the client socket's timeout while the response is passed
    // on, Apache's own otherwise. Microseconds; 0 leaves Apache's.
    void set_write_timeout(apr_interval_time_t timeout) { write_timeout_ = timeout; }

private:
    bool pass(std::string& error);
    // Gives up to `max` bytes of body data to `take(data, length)`, piece by piece, from what
    // an earlier read left in in_ or else from one ap_get_brigade call. APR_NONBLOCK_READ:
    // kData with nothing taken when no data is ready. With `hold`, the buckets taken are
    // moved there (their data stays valid) instead of deleted. `target` says where the
    // socket reads of the call go (apache::ReadTarget): with a destination, the data of a
    // piece given to `take` may already be at target.destination plus what was taken before
    // it (and `take` need not copy it); any placed bytes a piece would overwrite are copied
    // out first.
    template <class Take>
    ReadStatus read_pieces(std::size_t max, apr_read_type_e block, Take&& take,
                           int& error_status, std::string& error,
                           apr_bucket_brigade* hold = nullptr, apache::ReadTarget target = {});
    // The declared Content-Length still to come (bytes), -1 when unknown.
    std::int64_t body_left();

    request_rec* r_;
    apr_bucket_brigade* out_;
    apr_bucket_brigade* in_ = nullptr;  // body data read but not yet taken
    // Of the declared Content-Length (bytes), -1: unknown; looked up at the first read.
    std::optional<std::int64_t> body_left_;
    std::optional<bool> in_place_;      // reads_in_place(), once known
    bool body_ended_ = false;           // the input filters gave EOS
    bool eos_sent_ = false;
    bool deferred_ = false;
    apr_interval_time_t write_timeout_ = 0;
};

}  // namespace wsgi::wsgi
