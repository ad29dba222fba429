#include "daemon/daemon_channel.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "apache/log.hpp"

namespace wsgi::daemon {
namespace {

using protocol::FrameType;

// Largest kData frame sent for a big block.
constexpr std::size_t kMaxDataFrame = 256 * 1024;

}  // namespace

// The most a deferred last block may hold: copying it costs less than giving the GIL away
// and taking it back around a write, which under concurrent requests is a thread switch.
constexpr std::size_t kMaxDeferred = 64 * 1024;

DaemonChannel::DaemonChannel(int fd, FrameReader& reader, const DaemonRequest& request,
                             server_rec* server, Millis timeout)
    : fd_(fd), reader_(reader), request_(request), server_(server), timeout_(timeout) {}

bool DaemonChannel::write(std::string_view frame, std::string_view more, std::string& error) {
    std::lock_guard lock(write_mutex_);
    IoStatus status = write_all(fd_, {out_, frame, more}, timeout_);
    out_.clear();
    if (status != IoStatus::kOk) {
        error = "writing to the Apache child: " + describe(status, errno);
        broken_ = true;
        return false;
    }
    wrote_ = true;
    return true;
}

wsgi::Channel::ReadStatus DaemonChannel::request_body(std::size_t max, std::string_view& payload,
                                                      int& error_status, std::string& error) {
    if (body_done_ || ended_) {
        // After the response ended (a read from a request_finished subscriber) nothing is
        // asked for: the Apache child no longer answers reads.
        return ReadStatus::kEof;
    }
    if (!early_body_.empty()) {
        payload = early_body_.substr(0, max);
        early_body_.remove_prefix(payload.size());
        return ReadStatus::kData;
    }
    if (early_body_complete_) {
        body_done_ = true;
        return ReadStatus::kEof;
    }
    // The next read reuses the reader's buffer that the early body bytes were in.
    sent_early_body_ = {};
    reader_.waiting_soon();  // before the kRead: its answer may come at once
    auto limit = static_cast<std::uint32_t>(std::min<std::size_t>(max, protocol::kMaxPayload));
    if (!write(protocol::encode_read(limit), {}, error)) {
        error_status = 400;
        return ReadStatus::kError;
    }
    protocol::FrameHeader header{};
    IoStatus status = reader_.next(header, payload, timeout_, error);
    if (status != IoStatus::kOk) {
        if (error.empty()) {
            error = "reading the request body from the Apache child: " + describe(status, errno);
        }
        error_status = status == IoStatus::kTimeout ? 408 : 400;
        body_done_ = true;
        broken_ = true;
        return ReadStatus::kError;
    }
    switch (header.type) {
        case FrameType::kBodyData:
            if (payload.size() > limit) {
                break;
            }
            return ReadStatus::kData;
        case FrameType::kBodyEnd:
            body_done_ = true;
            return ReadStatus::kEof;
        case FrameType::kBodyError: {
            protocol::ErrorFrame failure;
            body_done_ = true;
            if (protocol::decode_error(payload, failure, error)) {
                error_status = failure.status;
                error = failure.message;
            } else {
                error_status = 400;
                broken_ = true;
            }
            return ReadStatus::kError;
        }
        default:
            break;
    }
    body_done_ = true;
    broken_ = true;
    error_status = 400;
    error = "unexpected frame from the Apache child while reading the body";
    return ReadStatus::kError;
}

wsgi::Channel::ReadStatus DaemonChannel::read_body(std::string& out, std::size_t max,
                                                   int& error_status, std::string& error) {
    std::string_view payload;
    ReadStatus status = request_body(max, payload, error_status, error);
    if (status == ReadStatus::kData) {
        out.append(payload);
    }
    return status;
}

wsgi::Channel::ReadStatus DaemonChannel::read_body_into(char* buffer, std::size_t max,
                                                        std::size_t& length, bool wait,
                                                        int& error_status, std::string& error) {
    length = 0;
    if (!wait && early_body_.empty() && !early_body_complete_) {
        return ReadStatus::kData;  // every further read is a round trip to the Apache child
    }
    std::string_view payload;
    ReadStatus status = request_body(max, payload, error_status, error);
    if (status == ReadStatus::kData) {
        length = payload.size();
        std::memcpy(buffer, payload.data(), length);
    }
    return status;
}

void DaemonChannel::set_headers(int status, const std::string& status_line,
                                const wsgi::HeaderList& headers,
                                std::optional<std::int64_t> content_length) {
    protocol::HeadersFrame frame;
    frame.status = status;
    frame.status_line = status_line;
    frame.content_length = content_length;
    frame.headers = headers;
    pending_headers_ = std::move(frame);
}

void DaemonChannel::commit_headers() {
    if (pending_headers_ && !headers_sent_.exchange(true)) {
        out_ += protocol::encode_headers(*pending_headers_);
    }
}

bool DaemonChannel::send_body(const char* data, std::size_t length, wsgi::Pass pass,
                              std::string& error) {
    commit_headers();
    std::string_view rest(data, length);
    do {
        std::string_view piece = rest.substr(0, kMaxDataFrame);
        rest.remove_prefix(piece.size());
        std::uint8_t flags = 0;
        if (rest.empty() && pass == wsgi::Pass::kFlush) {
            flags = protocol::kFlush;
        } else if (rest.empty() && pass == wsgi::Pass::kEos) {
            flags = protocol::kLast;
            ended_ = true;
        }
        if (piece.empty() && flags == 0) {
            continue;
        }
        std::string header = protocol::encode_data_header(FrameType::kData, piece.size(), flags);
        if (flags == 0 && out_.size() + header.size() + piece.size() <= kMaxDeferred) {
            // An item of a list with more to follow: it goes with the next write.
            out_ += header;
            out_ += piece;
            continue;
        }
        if (!write(header, piece, error)) {
            return false;
        }
    } while (!rest.empty());
    return true;
}

bool DaemonChannel::defer_last_block(const char* data, std::size_t length) {
    if (ended_ || out_.size() + length > kMaxDeferred) {
        return false;
    }
    commit_headers();
    if (data != nullptr || length > 0) {
        out_ += protocol::encode_data_header(FrameType::kData, length, protocol::kLast);
        out_.append(data, length);
    } else {
        out_ += protocol::encode_empty(FrameType::kEnd);
    }
    ended_ = true;
    deferred_ = true;
    return true;
}

void DaemonChannel::flush_deferred() {
    if (deferred_) {
        deferred_ = false;
        std::string ignored;  // the Apache child gone at the very end changes nothing here
        write({}, {}, ignored);
    }
}

bool DaemonChannel::send_file(int fd, std::int64_t offset, std::int64_t length, bool use_sendfile,
                              bool end, std::string& error) {
    commit_headers();
    if (length > 0) {
        // The descriptor goes to the Apache child (SCM_RIGHTS), which sends the file itself
        // (sendfile when allowed): no copy of the file through this socket.
        protocol::FileFrame file;
        file.offset = static_cast<std::uint64_t>(offset);
        file.length = static_cast<std::uint64_t>(length);
        file.use_sendfile = use_sendfile;
        file.end = end;
        out_ += protocol::encode_file(file);
        std::lock_guard lock(write_mutex_);
        IoStatus status = write_with_fd(fd_, out_, fd, timeout_);
        out_.clear();
        if (status != IoStatus::kOk) {
            broken_ = true;
            error = "passing the file to the Apache child: " + describe(status, errno);
            return false;
        }
        wrote_ = true;
        ended_ = ended_ || end;
        return true;
    }
    if (end) {
        ended_ = true;
        return write(protocol::encode_empty(FrameType::kEnd), {}, error);
    }
    return true;
}

bool DaemonChannel::finish(std::string& error) {
    if (ended_) {
        return true;
    }
    ended_ = true;
    commit_headers();
    return write(protocol::encode_empty(FrameType::kEnd), {}, error);
}

void DaemonChannel::abort() {
    if (ended_) {
        return;
    }
    ended_ = true;
    std::string ignored;
    write(protocol::encode_empty(FrameType::kAbort), {}, ignored);
}

void DaemonChannel::send_error(int status, const std::string& message) {
    if (headers_sent_ || ended_) {
        return;
    }
    ended_ = true;
    std::string ignored;
    write(protocol::encode_error(FrameType::kError, {status, message}), {}, ignored);
}

void DaemonChannel::send_restart() {
    ended_ = true;
    std::string ignored;
    write(protocol::encode_data_header(FrameType::kRestart, sent_early_body_.size(), 0),
          sent_early_body_, ignored);
}

void DaemonChannel::abandon_with_timeout() {
    broken_ = true;
    // Headers committed but never written (a deferred response whose thread got stuck before
    // it could write it) still allow the 504: the request thread's later write fails on the
    // shut down socket.
    headers_sent_ = true;
    // A write in progress has begun the answer (or asked for body data): then only the
    // shutdown, which also ends that write. Otherwise the request thread writes nothing
    // between the check and the 504.
    std::unique_lock lock(write_mutex_, std::try_to_lock);
    if (lock.owns_lock() && !wrote_) {
        write_all(fd_, protocol::encode_error(FrameType::kError, {504, "request-timeout"}),
                  Millis(1000));
    }
    shutdown(fd_, SHUT_RDWR);
}

void DaemonChannel::log(int level, const std::string& line) {
    apache::log_line(level, nullptr, server_, "[client " + request_.client + "] " + line);
}

}  // namespace wsgi::daemon
