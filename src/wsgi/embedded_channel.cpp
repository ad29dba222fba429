#include "wsgi/embedded_channel.hpp"

#include <apr_portable.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "apache/connection_input.hpp"
#include "apache/log.hpp"
#include "common/http_validate.hpp"
#include "common/text.hpp"

namespace wsgi::wsgi {
namespace {

std::string describe(apr_status_t status) {
    char reason[128];
    apr_strerror(status, reason, sizeof(reason));
    return reason;
}

apr_status_t close_duplicate_fd(void* data) noexcept {
    close(static_cast<int>(reinterpret_cast<intptr_t>(data)));
    return APR_SUCCESS;
}

// The body length a request declares (bytes), -1 when unknown: chunked, or no valid
// Content-Length (HTTP_IN then refuses the body or reads none).
std::int64_t declared_body_length(request_rec* r) {
    const char* length = apr_table_get(r->headers_in, "Content-Length");
    if (length == nullptr || apr_table_get(r->headers_in, "Transfer-Encoding") != nullptr) {
        return -1;
    }
    return common::parse_content_length(length).value_or(-1);
}

// Blocking reads in a row that the input filters may answer with no data and no end of the
// body before the read fails.
constexpr int kMaxEmptyReads = 10000;

// Whether `bb` holds body data or its end (EOS), not only other metadata or empty buckets.
bool holds_data_or_end(apr_bucket_brigade* bb) {
    for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b) || (!APR_BUCKET_IS_METADATA(b) && b->length != 0)) {
            return true;
        }
    }
    return false;
}

// Whether the input filters from `f` down to the core's pass the body on as the socket brings
// it (HTTP_IN with a Content-Length, mod_reqtimeout, mod_logio's count): under TLS, HTTP/2,
// chunked or any other filter the bytes read are not the bytes taken, and placing them would
// only cost copies to get them out of the way.
bool passes_body_unchanged(ap_filter_t* f) {
    for (; f != nullptr; f = f->next) {
        const char* name = f->frec->name;
        if (std::strcmp(name, "core_in") == 0) {
            return true;
        }
        if (std::strcmp(name, "http_in") != 0 && std::strcmp(name, "reqtimeout") != 0 &&
            std::strcmp(name, "log_input_output") != 0) {
            return false;
        }
    }
    return false;
}

}  // namespace

EmbeddedChannel::EmbeddedChannel(request_rec* r)
    : r_(r), out_(apr_brigade_create(r->pool, r->connection->bucket_alloc)) {}

std::int64_t EmbeddedChannel::body_left() {
    if (!body_left_) {
        body_left_ = declared_body_length(r_);  // at the first read: a GET never asks
    }
    return *body_left_;
}

bool EmbeddedChannel::reads_in_place() {
    if (!in_place_) {
        in_place_ = apache::socket_read_size(r_->connection) != nullptr && body_left() >= 0 &&
                    passes_body_unchanged(r_->input_filters);
    }
    return *in_place_;
}

template <class Take>
Channel::ReadStatus EmbeddedChannel::read_pieces(std::size_t max, apr_read_type_e block,
                                                 Take&& take, int& error_status,
                                                 std::string& error, apr_bucket_brigade* hold,
                                                 apache::ReadTarget target) {
    apache::SocketReadSize* socket_reads = apache::socket_read_size(r_->connection);
    if (in_ == nullptr) {
        in_ = apr_brigade_create(r_->pool, r_->connection->bucket_alloc);
    }
    apr_status_t status = APR_SUCCESS;
    // Until the pieces are taken: at its end, what the socket reads put in `target` and is
    // still in a bucket (beyond `max`, or kept by a filter) is copied out of it.
    std::optional<apache::SocketReadScope> scope;
    if (APR_BRIGADE_EMPTY(in_)) {
        if (body_ended_) {
            return ReadStatus::kEof;
        }
        // The socket reads may take what the body still has to bring in one call (Apache's
        // own take 8000 bytes a call); what they take beyond `max` stays with the core input
        // filter for the next read.
        apr_size_t expected = max;
        if (body_left() >= 0 && static_cast<std::uint64_t>(body_left()) < expected) {
            expected = static_cast<apr_size_t>(body_left());
        }
        scope.emplace(socket_reads, expected, target);
        // A blocking read brings data or the end of the body, but a request input filter may
        // answer one with nothing yet (mod_deflate, for a piece of a gzip body that inflates
        // to nothing): read again rather than take that as the end. Each such read waits for
        // the client; a filter that keeps answering nothing is given up on as an error.
        for (int empty = 0;; ++empty) {
            status = ap_get_brigade(r_->input_filters, in_, AP_MODE_READBYTES, block,
                                    static_cast<apr_off_t>(max));
            if (block != APR_BLOCK_READ || status != APR_SUCCESS || holds_data_or_end(in_)) {
                break;
            }
            apr_brigade_cleanup(in_);  // nothing, or only metadata such as a FLUSH
            if (empty == kMaxEmptyReads) {
                status = APR_EGENERAL;
                break;
            }
        }
        if (block == APR_NONBLOCK_READ && APR_STATUS_IS_EAGAIN(status)) {
            apr_brigade_cleanup(in_);
            return ReadStatus::kData;  // nothing has arrived yet
        }
    }
    std::size_t taken = 0;
    while (status == APR_SUCCESS && !APR_BRIGADE_EMPTY(in_) && taken < max) {
        apr_bucket* b = APR_BRIGADE_FIRST(in_);
        if (APR_BUCKET_IS_EOS(b)) {
            body_ended_ = true;
            apr_brigade_cleanup(in_);
            break;
        }
        const char* data = nullptr;
        apr_size_t length = 0;
        if (!APR_BUCKET_IS_METADATA(b)) {
            status = apr_bucket_read(b, &data, &length, block);
            if (block == APR_NONBLOCK_READ && APR_STATUS_IS_EAGAIN(status)) {
                status = APR_SUCCESS;  // the bucket stays for a later read
                break;
            }
            if (status != APR_SUCCESS) {
                break;
            }
            // AP_MODE_READBYTES gives at most `max`; should a filter give more, the rest
            // stays in in_ for the next read.
            if (length > max - taken) {
                length = max - taken;
                apr_bucket_split(b, length);
            }
            if (hold != nullptr && length > 0) {
                // The data must outlive the next ap_get_brigade: a transient bucket (mod_ssl
                // hands out views of its one read buffer) is copied into a heap bucket from
                // the connection's bucket allocator; a heap bucket stays as it is.
                status = apr_bucket_setaside(b, r_->pool);
                if (status == APR_SUCCESS) {
                    status = apr_bucket_read(b, &data, &length, APR_BLOCK_READ);
                }
                if (status != APR_SUCCESS) {
                    break;
                }
            }
        }
        if (length > 0 && target.destination != nullptr && data != target.destination + taken &&
            apache::evict_placed(socket_reads, target.destination + taken, length)) {
            // Bytes placed further on in the target are about to be overwritten: they were
            // copied out, and this bucket may have been one of them.
            status = apr_bucket_read(b, &data, &length, block);
            if (status != APR_SUCCESS) {
                break;
            }
        }
        if (length > 0) {  // never pass on a null `data`, even for no bytes
            take(data, static_cast<std::size_t>(length));
            taken += length;
            if (body_left_ && *body_left_ > 0) {
                *body_left_ -= std::min(*body_left_, static_cast<std::int64_t>(length));
            }
        }
        if (hold != nullptr) {
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(hold, b);
        } else {
            apr_bucket_delete(b);
        }
    }
    if (status != APR_SUCCESS) {
        apr_brigade_cleanup(in_);
        body_ended_ = true;
        error_status = ap_map_http_request_error(status, HTTP_BAD_REQUEST);
        error = describe(status);
        return ReadStatus::kError;
    }
    if (taken == 0 && block == APR_NONBLOCK_READ && !body_ended_) {
        return ReadStatus::kData;
    }
    if (taken == 0) {
        // A blocking read gives data or EOS (see above); take anything else as the end rather
        // than spin.
        body_ended_ = body_ended_ || APR_BRIGADE_EMPTY(in_);
        return ReadStatus::kEof;
    }
    return ReadStatus::kData;
}

Channel::ReadStatus EmbeddedChannel::read_body(std::string& out, std::size_t max,
                                               int& error_status, std::string& error) {
    return read_pieces(
        max, APR_BLOCK_READ,
        [&out](const char* data, std::size_t length) { out.append(data, length); },
        error_status, error);
}

Channel::ReadStatus EmbeddedChannel::read_body_into(char* buffer, std::size_t max,
                                                    std::size_t& length, bool wait,
                                                    int& error_status, std::string& error) {
    length = 0;
    auto copy = [buffer, &length](const char* data, std::size_t count) {
        if (data != buffer + length) {  // else the socket read put it there already
            std::memcpy(buffer + length, data, count);
        }
        length += count;
    };
    if (!reads_in_place()) {
        return read_pieces(max, wait ? APR_BLOCK_READ : APR_NONBLOCK_READ, copy, error_status,
                           error);
    }
    // Part of the body may have come with the request's headers and be held by the core
    // input filter: that is taken first, so that what the socket brings next is read straight
    // into `buffer` where it belongs.
    ReadStatus status = read_pieces(max, APR_NONBLOCK_READ, copy, error_status, error, nullptr,
                                    apache::ReadTarget{nullptr, 0, true});
    if (status != ReadStatus::kData || length > 0) {
        return status;
    }
    return read_pieces(max, wait ? APR_BLOCK_READ : APR_NONBLOCK_READ, copy, error_status, error,
                       nullptr, apache::ReadTarget{buffer, max, false});
}

Channel::ReadStatus EmbeddedChannel::read_body_held(std::size_t max, bool wait,
                                                    apr_bucket_brigade* hold,
                                                    std::vector<std::string_view>& pieces,
                                                    std::size_t& length, int& error_status,
                                                    std::string& error) {
    length = 0;
    return read_pieces(
        max, wait ? APR_BLOCK_READ : APR_NONBLOCK_READ,
        [&pieces, &length](const char* data, std::size_t count) {
            pieces.emplace_back(data, count);
            length += count;
        },
        error_status, error, hold);
}

void EmbeddedChannel::set_headers(int status, const std::string& status_line,
                                  const HeaderList& headers,
                                  std::optional<std::int64_t> content_length) {
    r_->status = status;
    r_->status_line = apr_pstrmemdup(r_->pool, status_line.data(), status_line.size());
    for (const auto& [name, value] : headers) {
        // Copies into the request pool: Apache may use them after the Python strings are
        // gone (CVE-2014-0242).
        const char* pooled = apr_pstrmemdup(r_->pool, value.data(), value.size());
        if (common::iequals(name, "Content-Type")) {
            ap_set_content_type(r_, pooled);
        } else if (common::iequals(name, "Content-Length")) {
            continue;
        } else {
            apr_table_addn(r_->headers_out, apr_pstrmemdup(r_->pool, name.data(), name.size()),
                           pooled);
        }
    }
    if (content_length) {
        ap_set_content_length(r_, *content_length);
    }
}

bool EmbeddedChannel::pass(std::string& error) {
    apr_socket_t* client = write_timeout_ > 0 ? ap_get_conn_socket(r_->connection) : nullptr;
    apr_interval_time_t apache_timeout = 0;
    if (client != nullptr) {
        apr_socket_timeout_get(client, &apache_timeout);
        apr_socket_timeout_set(client, write_timeout_);
    }
    apr_status_t status = ap_pass_brigade(r_->output_filters, out_);
    if (client != nullptr) {
        apr_socket_timeout_set(client, apache_timeout);
    }
    apr_brigade_cleanup(out_);
    if (status != APR_SUCCESS || r_->connection->aborted) {
        error = status == APR_SUCCESS ? "client connection closed" : describe(status);
        return false;
    }
    return true;
}

bool EmbeddedChannel::send_body(const char* data, std::size_t length, Pass pass_mode,
                                std::string& error) {
    apr_bucket_alloc_t* alloc = r_->connection->bucket_alloc;
    if (length > 0) {
        // Transient: Apache copies the bytes if it must keep them past ap_pass_brigade.
        APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_transient_create(data, length, alloc));
    }
    if (pass_mode == Pass::kFlush) {
        APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_flush_create(alloc));
    } else if (pass_mode == Pass::kEos) {
        APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_eos_create(alloc));
        eos_sent_ = true;
    }
    if (APR_BRIGADE_EMPTY(out_)) {
        return true;
    }
    return pass(error);
}

bool EmbeddedChannel::send_file(int fd, std::int64_t offset, std::int64_t length,
                                bool use_sendfile, bool end, std::string& error) {
    if (length > 0) {
        // A duplicate descriptor closed with the request pool, which Apache destroys only
        // after the response is written: the application may close its file at once.
        int duplicate = dup(fd);
        if (duplicate < 0) {
            error = describe(APR_FROM_OS_ERROR(errno));
            return false;
        }
        apr_pool_cleanup_register(r_->pool, reinterpret_cast<void*>(intptr_t{duplicate}),
                                  close_duplicate_fd, apr_pool_cleanup_null);
        apr_file_t* file = nullptr;
        apr_int32_t flags = APR_FOPEN_READ | APR_FOPEN_LARGEFILE;
        if (use_sendfile) {
            flags |= APR_FOPEN_SENDFILE_ENABLED;
        }
        apr_os_file_put(&file, &duplicate, flags, r_->pool);
        apr_bucket* first = apr_brigade_insert_file(out_, file, offset, length, r_->pool);
        for (apr_bucket* b = first; b != APR_BRIGADE_SENTINEL(out_); b = APR_BUCKET_NEXT(b)) {
            apr_bucket_file_enable_mmap(b, 0);
        }
    }
    if (end) {
        APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_eos_create(r_->connection->bucket_alloc));
        eos_sent_ = true;
    }
    return pass(error);
}

bool EmbeddedChannel::finish(std::string& error) {
    if (eos_sent_) {
        return true;
    }
    APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_eos_create(r_->connection->bucket_alloc));
    eos_sent_ = true;
    return pass(error);
}

// A small last block is copied into a heap bucket: copying a few kilobytes costs less than
// giving the GIL away and taking it back around ap_pass_brigade, which under concurrent
// requests means a thread switch per request.
constexpr std::size_t kMaxDeferred = 64 * 1024;

bool EmbeddedChannel::defer_last_block(const char* data, std::size_t length) {
    if (length > kMaxDeferred || eos_sent_) {
        return false;
    }
    apr_bucket_alloc_t* alloc = r_->connection->bucket_alloc;
    if (length > 0) {
        APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_heap_create(data, length, nullptr, alloc));
    }
    APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_eos_create(alloc));
    eos_sent_ = true;
    deferred_ = true;
    return true;
}

void EmbeddedChannel::flush_deferred() {
    if (deferred_) {
        deferred_ = false;
        std::string ignored;  // the client leaving at the very end changes nothing
        pass(ignored);
    }
}

void EmbeddedChannel::abort() {
    // As mod_proxy does for a backend that broke mid-body: what was sent is flushed, an error
    // bucket keeps the chunked encoding from being terminated, and the connection is closed.
    r_->connection->keepalive = AP_CONN_CLOSE;
    if (eos_sent_) {
        return;
    }
    apr_bucket_alloc_t* alloc = r_->connection->bucket_alloc;
    APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_flush_create(alloc));
    APR_BRIGADE_INSERT_TAIL(out_, ap_bucket_error_create(HTTP_BAD_GATEWAY, nullptr, r_->pool,
                                                         alloc));
    APR_BRIGADE_INSERT_TAIL(out_, apr_bucket_eos_create(alloc));
    eos_sent_ = true;
    ap_pass_brigade(r_->output_filters, out_);
    apr_brigade_cleanup(out_);
}

void EmbeddedChannel::log(int level, const std::string& line) {
    apache::log_line(level, r_, nullptr, line);
}

}  // namespace wsgi::wsgi
