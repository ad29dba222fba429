#include "daemon/client.hpp"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <http_protocol.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>
#include <thread>
#include <vector>

#include "apache/log.hpp"
#include "common/http_validate.hpp"
#include "common/text.hpp"
#include "daemon/connection_pool.hpp"
#include "daemon/process_group.hpp"
#include "daemon/protocol.hpp"
#include "daemon/request_meta.hpp"
#include "daemon/socket_io.hpp"
#include "wsgi/embedded_channel.hpp"
#include "wsgi/environ.hpp"

namespace wsgi::daemon {
namespace {

using protocol::FrameType;
using Clock = std::chrono::steady_clock;

// Keep connections to the daemon processes between requests (issue 8). false: one connection
// per request, as mod_wsgi does; the daemon side needs no switch (a connection the Apache
// child closes after one request is simply closed there too).
constexpr bool kKeepConnections = true;

// This Apache child's idle connections to the group with registry index `index` whose receive
// timeout is `timeout` (set once per connection: without socket-timeout it is the Timeout of
// the virtual host a request came to, so connections with different ones are kept apart).
ConnectionPool& pool_for(std::size_t index, Millis timeout) {
    static std::mutex mutex;
    static std::map<std::pair<std::size_t, Millis::rep>, std::unique_ptr<ConnectionPool>> pools;
    std::lock_guard lock(mutex);
    std::unique_ptr<ConnectionPool>& pool = pools[{index, timeout.count()}];
    if (!pool) {
        int threads = 1;
        if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS || threads < 1) {
            threads = 1;
        }
        pool = std::make_unique<ConnectionPool>(static_cast<std::size_t>(threads));
    }
    return *pool;
}

// RFC 9110 section 9.2.2: methods whose request may be sent again without a second effect.
// HEAD is M_GET with header_only.
bool idempotent(const request_rec* r) {
    switch (r->method_number) {
        case M_GET:
        case M_PUT:
        case M_DELETE:
        case M_OPTIONS:
        case M_TRACE:
            return true;
        default:
            return false;
    }
}

// Closes a descriptor at scope exit.
class Socket {
public:
    Socket() = default;
    explicit Socket(int fd) : fd_(fd) {}
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() { reset(); }
    void reset(int fd = -1) {
        if (fd_ >= 0) {
            close(fd_);
        }
        fd_ = fd;
    }
    int get() const { return fd_; }
    // Gives up ownership.
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_ = -1;
};

enum class Connect { kOk, kUnreachable, kTimedOut, kForeign };

// Connects to the group's socket, retrying while its backlog is full or no process accepts
// yet (ECONNREFUSED, EAGAIN) until `timeout`; other errors (no such socket, permission
// denied) fail at once. The connect does not block: a UNIX socket whose backlog is full would
// otherwise hold the request past connect-timeout, until a daemon thread accepted. A socket
// whose listener is not the Apache parent's user (another user's socket put in place of the
// group's) is kForeign, with `peer` its listener's credentials, and nothing is sent to it.
Connect connect_to(const std::string& path, Millis timeout, Socket& out, int& saved_errno,
                   ucred& peer) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    auto deadline = Clock::now() + timeout;
    auto pause = Millis(10);
    while (true) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            saved_errno = errno;
            return Connect::kUnreachable;
        }
        if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
            Socket connected(fd);
            socklen_t length = sizeof(peer);
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
                saved_errno = errno;
                return Connect::kUnreachable;
            }
            if (peer.uid != socket_listener_uid()) {
                saved_errno = EPERM;
                return Connect::kForeign;
            }
            // Blocking again: the relay waits with its own timeouts.
            int flags = fcntl(fd, F_GETFL);
            if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
                saved_errno = errno;
                return Connect::kUnreachable;
            }
            out.reset(connected.release());
            return Connect::kOk;
        }
        saved_errno = errno;
        close(fd);
        if (saved_errno != ECONNREFUSED && saved_errno != EAGAIN && saved_errno != EINTR) {
            return Connect::kUnreachable;
        }
        if (Clock::now() + pause > deadline) {
            return Connect::kTimedOut;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, Millis(250));
    }
}

Millis to_millis(config::Seconds seconds) {
    return std::chrono::duration_cast<Millis>(seconds);
}

// Checks a response header block from the daemon as strictly as start_response did: the
// Apache child does not trust the daemon process (CVE-2022-37436 class).
std::string check_headers(const protocol::HeadersFrame& headers, std::int64_t limit) {
    if (auto error = common::check_status_line(headers.status_line)) {
        return "bad status line: " + *error;
    }
    if (std::stoi(headers.status_line.substr(0, 3)) != headers.status) {
        return "status line does not match the status";
    }
    bool content_length = false;
    for (const auto& [name, value] : headers.headers) {
        if (auto error = common::check_header_name(name)) {
            return "bad header name: " + *error;
        }
        if (common::is_hop_by_hop_header(name)) {
            return "hop-by-hop header '" + name + "'";
        }
        if (common::iequals(name, "Content-Length")) {
            if (content_length) {
                return "more than one Content-Length header";
            }
            content_length = true;
        }
        if (auto error = common::check_header_value(value)) {
            return "bad value of header '" + name + "': " + *error;
        }
        if (static_cast<std::int64_t>(name.size() + value.size() + 2) > limit) {
            return "header '" + name + "' longer than header-buffer-size (" +
                   std::to_string(limit) + " bytes)";
        }
    }
    return "";
}

// The local URL a response asks Apache to serve in its place (mod_wsgi's "Delegating File
// Serving To Apache", the CGI local redirect response of RFC 3875 section 6.2.2): a 200 with a
// Location that is a path, with no scheme or host. Empty for any other response.
std::string local_redirect(const protocol::HeadersFrame& headers) {
    if (headers.status != 200) {
        return "";
    }
    for (const auto& [name, value] : headers.headers) {
        if (common::iequals(name, "Location")) {
            bool path = !value.empty() && value[0] == '/' && (value.size() == 1 || value[1] != '/');
            return path ? value : "";
        }
    }
    return "";
}

// Serves `location` in place of the response (ap_internal_redirect: the new URL goes through
// Apache's request processing, its access control included) as a GET without a body, as
// mod_wsgi does. What the client sent of a body the application did not read is read and
// dropped first, so that it is not taken for the next request on the connection; if that
// fails, the connection ends with this response.
int serve_local_redirect(request_rec* r, const std::string& location) {
    if (ap_discard_request_body(r) != OK) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    r->method = "GET";
    r->method_number = M_GET;
    apr_table_unset(r->headers_in, "Content-Length");
    apr_table_unset(r->headers_in, "Transfer-Encoding");
    ap_internal_redirect(apr_pstrdup(r->pool, location.c_str()), r);
    return OK;
}

// Reads the body data that has already arrived without waiting, until `length` reaches
// `wanted`, through `read(max, count, error_status, why)`: one non-blocking read of the
// channel's of at most `max` bytes. kEof once the body ended; a read error is kept in `error`
// (status, why).
template <class Read>
wsgi::Channel::ReadStatus read_arrived_body(std::size_t& length, std::size_t wanted,
                                            std::optional<std::pair<int, std::string>>& error,
                                            Read&& read) {
    while (length < wanted) {
        std::size_t count = 0;
        int error_status = 0;
        std::string why;
        auto more = read(wanted - length, count, error_status, why);
        length += count;
        if (more == wsgi::Channel::ReadStatus::kError) {
            error.emplace(error_status, std::move(why));
            return more;
        }
        if (more != wsgi::Channel::ReadStatus::kData || count == 0) {
            return more;
        }
    }
    return wsgi::Channel::ReadStatus::kData;
}

// Takes the body data that has already arrived without waiting, until `length` reaches
// `wanted`: its buckets go to `hold`, views of them to `pieces`. As read_arrived_body().
wsgi::Channel::ReadStatus take_arrived_body(wsgi::EmbeddedChannel& channel,
                                            apr_bucket_brigade* hold,
                                            std::vector<std::string_view>& pieces,
                                            std::size_t& length, std::size_t wanted,
                                            std::optional<std::pair<int, std::string>>& error) {
    return read_arrived_body(
        length, wanted, error,
        [&](std::size_t max, std::size_t& count, int& error_status, std::string& why) {
            return channel.read_body_held(max, false, hold, pieces, count, error_status, why);
        });
}

class Relay {
public:
    // `timeout` bounds every wait (socket-timeout); `timed_socket`: `fd` has it as its receive
    // timeout (set_receive_timeout). `channel` is the request's, kept across attempts: it holds
    // body data read but not yet relayed. `read_error`: a client read error met before, for
    // the daemon's first read.
    Relay(request_rec* r, const wsgi::RequestSettings& settings, const config::DaemonGroup& group,
          int fd, Millis timeout, bool may_retry, bool timed_socket,
          wsgi::EmbeddedChannel& channel, std::optional<std::pair<int, std::string>> read_error)
        : r_(r), settings_(settings), group_(group), fd_(fd), may_retry_(may_retry),
          storage_(claim_thread_storage()), reader_(fd, storage_.get(), timed_socket),
          pending_read_error_(std::move(read_error)), channel_(channel), timeout_(timeout) {}

    // kRetry: the request never reached the daemon process (see run()); send it again.
    enum class Outcome { kDone, kRestart, kRetry };
    // Relays one conversation. Sets `status_` to the HTTP status for Apache (OK when sent).
    Outcome run();
    int status() const { return status_; }
    // The local URL to serve in place of the response (local_redirect()); empty if none.
    const std::string& redirect() const { return redirect_; }
    // Whether the conversation ended with its last frame, and nothing came after it, so the
    // connection can be kept.
    bool reusable() const { return clean_end_ && reader_.pending() == 0; }
    // After kRestart: the body bytes the daemon process was sent with the request and handed
    // back (empty if it had none); the caller may move them out.
    std::string& handed_back() { return handed_back_; }

private:
    // The buffer a Relay reads its frames into: the request thread's own, kept between
    // requests (allocating and freeing it for every request made glibc give its pages back and
    // fault them in again), except for a Relay nested in another on the same thread (a
    // subrequest to a daemon process run by an output filter while the outer Relay passes its
    // response on), which gets one of its own so the outer one's frames stay intact.
    class Storage {
    public:
        explicit Storage(std::string* thread_storage) : thread_(thread_storage) {}
        Storage(const Storage&) = delete;
        Storage& operator=(const Storage&) = delete;
        ~Storage() {
            if (thread_ != nullptr) {
                thread_storage_in_use() = false;
            }
        }
        std::string& get() { return thread_ != nullptr ? *thread_ : own_; }

    private:
        std::string* thread_;
        std::string own_;
    };
    static bool& thread_storage_in_use() {
        thread_local bool in_use = false;
        return in_use;
    }
    static std::string* claim_thread_storage() {
        thread_local std::string storage;
        if (std::exchange(thread_storage_in_use(), true)) {
            return nullptr;
        }
        return &storage;
    }
    bool answer_read(std::string_view payload);
    // The daemon process broke the conversation: 502 if nothing went out yet, else the
    // client connection is cut.
    Outcome broken() {
        const bool relaying = headers_ && redirect_.empty();
        status_ = relaying ? OK : HTTP_BAD_GATEWAY;
        if (relaying) {
            channel_.abort();
        }
        redirect_.clear();
        return Outcome::kDone;
    }
    // The client left while the response was being relayed: closing the socket ends the
    // application's iteration in the daemon process.
    Outcome client_left(const std::string& error) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r_,
                      "Client closed the connection while daemon process '%s' was responding: "
                      "%s",
                      group_.options.name.c_str(), error.c_str());
        status_ = OK;
        return Outcome::kDone;
    }
    // The response ended: its status for Apache.
    Outcome ended() {
        status_ = override_status_ != 0 ? override_status_ : OK;
        clean_end_ = true;
        return Outcome::kDone;
    }
    bool never_read(IoStatus io, int saved_errno) const;
    // Whether the response's body goes to the client (not replaced by Apache's error page
    // under WSGIErrorOverride, nor by a local redirect).
    bool passes_body() const { return override_status_ == 0 && redirect_.empty(); }
    void log(int level, const char* code, const std::string& what) {
        ap_log_rerror(APLOG_MARK, level, 0, r_, "%s: Daemon process '%s': %s (%s).", code,
                      group_.options.name.c_str(), what.c_str(),
                      settings_.script_filename.c_str());
    }

    request_rec* r_;
    const wsgi::RequestSettings& settings_;
    const config::DaemonGroup& group_;
    int fd_;
    bool may_retry_;  // a kept connection, used for this request first
    Storage storage_;
    FrameReader reader_;
    bool received_ = false;  // any frame came from the daemon process
    bool clean_end_ = false;
    // A client read error met while gathering body data, for the daemon's next read.
    std::optional<std::pair<int, std::string>> pending_read_error_;
    wsgi::EmbeddedChannel& channel_;
    apr_bucket_brigade* answer_hold_ = nullptr;  // body data being sent for a kRead
    Millis timeout_;
    int status_ = OK;
    bool headers_ = false;
    int override_status_ = 0;  // WSGIErrorOverride: Apache's error page instead of the body
    std::string redirect_;     // a local redirect: the body is read and dropped
    std::string handed_back_;
};

// Whether a kept connection broke with this request unread by the daemon process, so that
// sending it again cannot run it twice. A UNIX stream socket closed with unread data in its
// receive queue resets its peer (ECONNRESET), where one closed after reading everything
// gives a plain end of file: a process that died or stopped before reading the request
// resets the connection, one that died while running it does not (that request stays a 502,
// as with a new connection). This happens when a request goes out on a kept connection just
// as its daemon process dies (after SIGKILL its threads may still hold the connection open
// for a moment); a new connection would have waited in the listening socket's backlog for
// the replacement process. Only idempotent requests (RFC 9110 section 9.2.2), and only before
// the daemon process asked for the body or sent anything.
bool Relay::never_read(IoStatus io, int saved_errno) const {
    return may_retry_ && !received_ && io == IoStatus::kClosed && saved_errno == ECONNRESET &&
           idempotent(r_);
}

bool Relay::answer_read(std::string_view payload) {
    std::uint32_t wanted = 0;
    std::string error;
    if (!protocol::decode_read(payload, wanted, error)) {
        log(APLOG_ERR, "WSGI0147", error);
        return false;
    }
    if (answer_hold_ == nullptr) {
        answer_hold_ = apr_brigade_create(r_->pool, r_->connection->bucket_alloc);
    }
    // parts[0]: the frame header; then the body data, in the buckets Apache read it into.
    std::vector<std::string_view> parts(1);
    std::size_t length = 0;
    int error_status = 0;
    wsgi::Channel::ReadStatus read;
    if (pending_read_error_) {
        read = wsgi::Channel::ReadStatus::kError;
        std::tie(error_status, error) = *std::exchange(pending_read_error_, std::nullopt);
    } else {
        read = channel_.read_body_held(wanted, true, answer_hold_, parts, length, error_status,
                                       error);
        if (read == wsgi::Channel::ReadStatus::kError) {
            parts.resize(1);  // only the error frame: its payload says all the daemon needs
        } else if (read == wsgi::Channel::ReadStatus::kData && length > 0) {
            // What else has arrived goes in the same frame: one round trip per read() of the
            // application rather than one per socket read of Apache's (8000 bytes). An error
            // found on the way is kept for the next read, after the data before it.
            take_arrived_body(channel_, answer_hold_, parts, length, wanted, pending_read_error_);
        }
    }
    std::string frame;
    switch (read) {
        case wsgi::Channel::ReadStatus::kData:
            frame = protocol::encode_data_header(FrameType::kBodyData, length, 0);
            break;
        case wsgi::Channel::ReadStatus::kEof:
            frame = protocol::encode_empty(FrameType::kBodyEnd);
            break;
        case wsgi::Channel::ReadStatus::kError:
            frame = protocol::encode_error(FrameType::kBodyError, {error_status, error});
            break;
    }
    parts[0] = frame;
    bool sent = write_all(fd_, parts, timeout_) == IoStatus::kOk;
    apr_brigade_cleanup(answer_hold_);
    return sent;
}

// The body bytes sent with the request (kWithBody) at most: what a small POST sends whole.
constexpr std::size_t kMaxEarlyBody = 64 * 1024;

// Copies the body data that has already arrived, up to kMaxEarlyBody bytes, into `buffer`
// without waiting; `length` is the count. Where the channel reads in place (the socket reads
// straight into `buffer`, EmbeddedChannel::reads_in_place) in reads as large as what is
// left; elsewhere (TLS, HTTP/2, chunked) one socket read's worth at a time
// (APR_BUCKET_BUFF_SIZE), freed as it is copied, so that the data takes one or two of the
// connection allocator's 8 KiB blocks at once rather than one for each piece of the body:
// the allocator keeps as many blocks as a request of the connection ever held at once, for
// every connection an Apache child has had open at the same moment. Returns whether the
// body ended; a read error is kept in `error` (status, why) for the daemon's first read.
bool copy_arrived_body(wsgi::EmbeddedChannel& channel, MappedString& buffer, std::size_t& length,
                       std::optional<std::pair<int, std::string>>& error) {
    if (buffer.size() < kMaxEarlyBody) {
        buffer.resize(kMaxEarlyBody);
    }
    length = 0;
    const bool in_place = channel.reads_in_place();
    return read_arrived_body(
               length, kMaxEarlyBody, error,
               [&](std::size_t max, std::size_t& count, int& error_status, std::string& why) {
                   return channel.read_body_into(
                       buffer.data() + length,
                       in_place ? max : std::min<std::size_t>(APR_BUCKET_BUFF_SIZE, max), count,
                       false, error_status, why);
               }) == wsgi::Channel::ReadStatus::kEof;
}

// Whether the request has a body that may be read before the application asks for it: not
// when the client waits for "100 Continue", which only the application's first read sends.
bool may_send_body_early(const request_rec* r) {
    if (r->expecting_100) {
        return false;
    }
    if (apr_table_get(r->headers_in, "Transfer-Encoding") != nullptr) {
        return true;
    }
    const char* length = apr_table_get(r->headers_in, "Content-Length");
    return length != nullptr && std::strcmp(length, "0") != 0;
}

Relay::Outcome Relay::run() {
    while (true) {
        protocol::FrameHeader header{};
        std::string_view payload;
        std::string error;
        IoStatus io = reader_.next(header, payload, timeout_, error);
        const int saved_errno = errno;
        if (io != IoStatus::kOk && never_read(io, saved_errno)) {
            return Outcome::kRetry;
        }
        if (io == IoStatus::kOk) {
            received_ = true;
        } else {
            std::string why = error.empty() ? describe(io, saved_errno) : error;
            if (io == IoStatus::kClosed) {
                // If the daemon process died, say which one and how. The parent records it
                // when the MPM reaps the process, which it does about once a second.
                if (auto death = recent_death(group_.index, r_->request_time,
                                              std::chrono::milliseconds(1500))) {
                    why = "daemon process pid=" + std::to_string(death->pid) + " " + death->how;
                }
            }
            if (headers_) {
                log(APLOG_ERR, "WSGI0148", "response cut short: " + why);
                return broken();
            }
            if (io == IoStatus::kTimeout) {
                log(APLOG_ERR, "WSGI0145", "no response within socket-timeout");
                status_ = HTTP_GATEWAY_TIME_OUT;
            } else {
                log(APLOG_ERR, "WSGI0146", "closed the connection before sending headers: " + why);
                status_ = HTTP_BAD_GATEWAY;
            }
            return Outcome::kDone;
        }
        switch (header.type) {
            case FrameType::kRead:
                if (!answer_read(payload)) {
                    return broken();
                }
                break;
            case FrameType::kHeaders: {
                protocol::HeadersFrame headers;
                std::string problem;
                if (headers_ || !protocol::decode_headers(payload, headers, problem) ||
                    !(problem = check_headers(headers, group_.options.header_buffer_size))
                         .empty()) {
                    log(APLOG_ERR, "WSGI0144",
                        "invalid response headers: " + (problem.empty() ? "sent twice" : problem));
                    return broken();
                }
                headers_ = true;
                if (settings_.error_override && headers.status >= 400) {
                    override_status_ = headers.status;
                    break;
                }
                redirect_ = local_redirect(headers);
                if (!redirect_.empty()) {
                    break;
                }
                channel_.set_headers(headers.status, headers.status_line, headers.headers,
                                     headers.content_length);
                break;
            }
            case FrameType::kData:
                if (!headers_) {
                    log(APLOG_ERR, "WSGI0144", "body data before headers");
                    status_ = HTTP_BAD_GATEWAY;
                    return Outcome::kDone;
                }
                if (passes_body() &&
                    !channel_.send_body(payload.data(), payload.size(),
                                        (header.flags & protocol::kLast) != 0
                                            ? wsgi::Pass::kEos
                                        : (header.flags & protocol::kFlush) != 0
                                            ? wsgi::Pass::kFlush
                                            : wsgi::Pass::kNoFlush,
                                        error)) {
                    return client_left(error);
                }
                if ((header.flags & protocol::kLast) != 0) {
                    return ended();
                }
                break;
            case FrameType::kFile: {
                protocol::FileFrame file;
                Socket passed(reader_.take_fd());  // the file's descriptor (SCM_RIGHTS)
                if (!headers_ || passed.get() < 0 ||
                    !protocol::decode_file(payload, file, error)) {
                    log(APLOG_ERR, "WSGI0147",
                        error.empty() ? "file frame without headers or descriptor" : error);
                    return broken();
                }
                if (passes_body() &&
                    !channel_.send_file(passed.get(), static_cast<std::int64_t>(file.offset),
                                        static_cast<std::int64_t>(file.length), file.use_sendfile,
                                        file.end, error)) {
                    return client_left(error);
                }
                if (file.end) {
                    return ended();
                }
                break;
            }
            case FrameType::kEnd:
                if (!headers_) {
                    log(APLOG_ERR, "WSGI0146", "ended the response without headers");
                    status_ = HTTP_BAD_GATEWAY;
                } else if (override_status_ != 0) {
                    status_ = override_status_;
                } else if (!redirect_.empty()) {
                    status_ = OK;
                } else {
                    channel_.finish(error);
                    status_ = OK;
                }
                clean_end_ = true;
                return Outcome::kDone;
            case FrameType::kAbort:
                clean_end_ = true;
                if (headers_ && passes_body()) {
                    channel_.abort();
                    status_ = OK;
                } else {
                    redirect_.clear();  // the application failed after all
                    status_ = override_status_ != 0 ? override_status_ : HTTP_INTERNAL_SERVER_ERROR;
                }
                return Outcome::kDone;
            case FrameType::kError: {
                protocol::ErrorFrame failure;
                if (!protocol::decode_error(payload, failure, error) || headers_ ||
                    failure.status < 400 || failure.status > 599) {
                    log(APLOG_ERR, "WSGI0147",
                        !error.empty() ? error
                        : headers_     ? "error after headers"
                                       : "error frame with status " +
                                             std::to_string(failure.status));
                    return broken();
                }
                status_ = failure.status;
                clean_end_ = true;
                return Outcome::kDone;
            }
            case FrameType::kRestart:
                if (headers_) {
                    return broken();
                }
                handed_back_.assign(payload);
                return Outcome::kRestart;
            default:
                log(APLOG_ERR, "WSGI0147", "unexpected frame type " +
                                               std::to_string(static_cast<int>(header.type)));
                return broken();
        }
    }
}

// script-user= / script-group= (mod_wsgi docs, WSGIDaemonProcess): a script that the
// configured account does not own is refused with 403, so that a user who can put files under
// the URL space cannot run them as the daemon's user. Returns OK or HTTP_FORBIDDEN (logged).
int check_script_owner(request_rec* r, const std::string& path, const config::DaemonGroup& group,
                       const config::DaemonIdentity& identity) {
    if (!identity.script_uid && !identity.script_gid) {
        return OK;
    }
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r,
                      "WSGI0154: WSGI script '%s' of daemon process group '%s' cannot be "
                      "checked against script-user=/script-group=; refused.",
                      path.c_str(), group.options.name.c_str());
        return HTTP_FORBIDDEN;
    }
    const bool user_differs = identity.script_uid && info.st_uid != *identity.script_uid;
    const bool group_differs = identity.script_gid && info.st_gid != *identity.script_gid;
    if (user_differs || group_differs) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0154: WSGI script '%s' (owner uid %ld, gid %ld) is not owned by the "
                      "%s of daemon process group '%s' (%s%ld); refused.",
                      path.c_str(), static_cast<long>(info.st_uid),
                      static_cast<long>(info.st_gid), user_differs ? "script-user" : "script-group",
                      group.options.name.c_str(), user_differs ? "uid " : "gid ",
                      user_differs ? static_cast<long>(*identity.script_uid)
                                   : static_cast<long>(*identity.script_gid));
        return HTTP_FORBIDDEN;
    }
    return OK;
}

}  // namespace

int serve_in_daemon(request_rec* r, const wsgi::RequestSettings& settings,
                    const config::DaemonGroup& group, const wsgi::ScriptLoad& script) {
    const GroupRuntime* runtime = group_runtime(group.index);
    if (runtime == nullptr) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0117: Daemon process group '%s' is not running.",
                      group.options.name.c_str());
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (int refused = check_script_owner(r, settings.script_filename, group, runtime->identity);
        refused != OK) {
        return refused;
    }
    DaemonRequest request;
    request.settings = settings;
    request.module_name = script.module_name;
    request.script_mtime = script.mtime;
    request.head_only = r->header_only != 0;
    wsgi::EnvironFacts facts = wsgi::embedded_facts(r);
    request.https = facts.https;
    request.body_within_content_length = facts.body_within_content_length;
    request.request_start = facts.request_start;
    request.queue_start = static_cast<double>(apr_time_now()) / 1e6;
    request.secret = runtime->secret;
    request.server_pid = static_cast<long>(getpid());
    request.config_generation = static_cast<long>(ap_state_query(AP_SQ_CONFIG_GEN));
    request.server_index = config::server_config(r->server).server_index;
    request.client = std::string(r->useragent_ip != nullptr ? r->useragent_ip : "-") + ":" +
                     std::to_string(r->useragent_addr != nullptr ? r->useragent_addr->port : 0);
    protocol::RequestEncoder encoder;
    for (const auto& [key, value] : encode_meta(request)) {
        encoder.add(key, value);
    }
    encoder.next_list();
    wsgi::gather_variables(r, settings, [&encoder](std::string_view key, std::string_view value) {
        encoder.add(key, value);
        return true;
    });
    // The part of the body that has already arrived goes with the request, so the daemon
    // process need not ask for it (a round trip) when the application reads it. It is copied
    // into a buffer the child's threads share (see copy_arrived_body()), and for a method
    // that is not idempotent freed as soon as the request has gone out: should the daemon
    // process hand the request back (kRestart), it sends these bytes back with it. Such a
    // request waiting for a daemon thread or its application then holds none of the child's
    // memory for them. An idempotent one keeps them, to send them again after a kept
    // connection broke unread (never_read()).
    wsgi::EmbeddedChannel channel(r);
    // response-socket-timeout, else socket-timeout, else Apache's Timeout (mod_wsgi docs).
    if (auto timeout = group.options.response_socket_timeout
                           ? group.options.response_socket_timeout
                           : group.options.socket_timeout) {
        channel.set_write_timeout(apr_time_from_msec(to_millis(*timeout).count()));
    }
    std::optional<SharedBuffer> early_body;
    std::size_t early_length = 0;
    std::optional<std::pair<int, std::string>> read_error;
    std::string early_header;
    if (may_send_body_early(r)) {
        early_body.emplace();
        bool complete = copy_arrived_body(channel, early_body->get(), early_length, read_error);
        early_header = protocol::encode_data_header(FrameType::kBodyData, early_length,
                                                    complete ? protocol::kLast : 0);
        if (early_length == 0) {
            early_body.reset();
        }
    }
    std::string encoded = encoder.finish(early_header.empty() ? 0 : protocol::kWithBody);
    if (encoded.size() - protocol::kHeaderSize > protocol::kMaxPayload) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "WSGI0149: Request environment too large for daemon process '%s'.",
                      group.options.name.c_str());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    // The request frame, the body frame's header, the body data.
    std::string_view parts[3] = {
        encoded, early_header,
        early_body ? std::string_view(early_body->get().data(), early_length) : std::string_view()};
    const bool keep_body = idempotent(r);
    std::string handed_back;  // the body bytes as a daemon process handed them back
    bool body_freed = false;  // parts[2] must come back from the daemon process to go again

    const Millis connect_timeout = to_millis(group.options.connect_timeout);
    const Millis socket_timeout = to_millis(
        group.options.socket_timeout.value_or(config::Seconds(apr_time_sec(r->server->timeout))));
    // A process restarting for a changed script answers kRestart; the others, or its
    // successor, serve the request. Bounded as mod_wsgi bounds it.
    const int attempts = 2 * group.options.processes + 1;
    ConnectionPool* pool = kKeepConnections ? &pool_for(group.index, socket_timeout) : nullptr;
    bool fresh_only = false;  // after a failed try: a new connection, through the backlog
    std::string redirect;     // a local redirect, served once the connection is let go
    for (int attempt = 0; attempt < attempts && redirect.empty(); ++attempt) {
        Socket socket;
        bool reused = false;
        if (pool != nullptr && !fresh_only) {
            int fd = pool->take();
            if (fd >= 0) {
                socket.reset(fd);
                reused = true;
            }
        }
        if (!reused) {
            int saved_errno = 0;
            ucred peer{};
            Connect connected =
                connect_to(runtime->socket_path, connect_timeout, socket, saved_errno, peer);
            if (connected == Connect::kForeign) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              "WSGI0155: The socket '%s' of WSGI daemon process group '%s' is "
                              "not Apache's: its listener is uid %ld (pid %ld), not uid %ld; "
                              "nothing was sent to it. Another user may have replaced it "
                              "(WSGISocketPrefix in a directory others can write, WSGI0173).",
                              runtime->socket_path.c_str(), group.options.name.c_str(),
                              static_cast<long>(peer.uid), static_cast<long>(peer.pid),
                              static_cast<long>(socket_listener_uid()));
                return HTTP_SERVICE_UNAVAILABLE;
            }
            if (connected != Connect::kOk) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                              "%s: Unable to connect to WSGI daemon process '%s' on '%s'%s: %s.",
                              connected == Connect::kTimedOut ? "WSGI0116" : "WSGI0117",
                              group.options.name.c_str(), runtime->socket_path.c_str(),
                              connected == Connect::kTimedOut ? " within connect-timeout" : "",
                              std::strerror(saved_errno));
                return HTTP_SERVICE_UNAVAILABLE;
            }
        }
        fresh_only = true;
        // Blocking reads with the receive timeout; only connections that have it are kept.
        const bool timed = reused || set_receive_timeout(socket.get(), socket_timeout);
        if (write_all(socket.get(), parts, socket_timeout) != IoStatus::kOk) {
            // The process went away before reading: try again. A kept connection that its
            // process handed back or closed while idle (ConnectionPool::take) is not a try;
            // fresh_only makes it happen once at most.
            if (reused) {
                --attempt;
            }
            continue;
        }
        if (!keep_body && early_length > 0) {
            // Gone out: the daemon process hands it back if need be.
            early_body.reset();
            std::string().swap(handed_back);
            parts[2] = {};
            body_freed = true;
        }
        Relay relay(r, settings, group, socket.get(), socket_timeout, reused, timed, channel,
                    read_error);
        switch (relay.run()) {
            case Relay::Outcome::kDone:
                if (pool != nullptr && timed && relay.reusable()) {
                    pool->put(socket.release());
                }
                if (relay.redirect().empty()) {
                    return relay.status();
                }
                redirect = relay.redirect();
                break;
            case Relay::Outcome::kRetry:
                if (body_freed) {
                    // Not reached: only an idempotent request is retried, and it keeps its body.
                    return HTTP_BAD_GATEWAY;
                }
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              "Daemon process '%s' closed a kept connection without reading the "
                              "request; sending it again on a new connection.",
                              group.options.name.c_str());
                break;
            case Relay::Outcome::kRestart:
                // That process is restarting, or busy: another one serves the request.
                if (!body_freed) {
                    break;  // the body bytes, if any, are still here
                }
                if (relay.handed_back().size() != early_length) {
                    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                                  "WSGI0153: Daemon process '%s' handed the request back "
                                  "without the %" APR_SIZE_T_FMT " body bytes sent with it "
                                  "(%" APR_SIZE_T_FMT " came back).",
                                  group.options.name.c_str(), static_cast<apr_size_t>(early_length),
                                  static_cast<apr_size_t>(relay.handed_back().size()));
                    return HTTP_SERVICE_UNAVAILABLE;
                }
                handed_back = std::move(relay.handed_back());
                parts[2] = handed_back;
                body_freed = false;
                break;
        }
    }
    if (!redirect.empty()) {
        early_body.reset();
        return serve_local_redirect(r, redirect);
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "WSGI0124: Daemon process group '%s' kept restarting; gave up after %d tries.",
                  group.options.name.c_str(), attempts);
    return HTTP_SERVICE_UNAVAILABLE;
}

}  // namespace wsgi::daemon
