#include "daemon/daemon_channel.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "apache/log.hpp"

namespace wsgi::daemon {
namespace {

using protocol::FrameType;

// Largest kData frame sent for a big block.
constexpr std::size_t kMaxDataFrame = 256 * 1024;

}  // namespace

DaemonChannel::DaemonChannel(int fd, const DaemonRequest& request, server_rec* server,
                             Millis timeout)
    : fd_(fd), request_(request), server_(server), timeout_(timeout) {}

bool DaemonChannel::write(std::string_view frame, std::string_view more, std::string& error) {
    IoStatus status = write_all(fd_, frame, timeout_, more);
    if (status != IoStatus::kOk) {
        error = "writing to the Apache child: " + describe(status, errno);
        broken_ = true;
        return false;
    }
    return true;
}

wsgi::Channel::ReadStatus DaemonChannel::read_body(std::string& out, std::size_t max, int& error_status,
                                             std::string& error) {
    if (body_done_) {
        return ReadStatus::kEof;
    }
    auto limit = static_cast<std::uint32_t>(std::min<std::size_t>(max, protocol::kMaxPayload));
    if (!write(protocol::encode_read(limit), {}, error)) {
        error_status = 400;
        return ReadStatus::kError;
    }
    protocol::FrameHeader header{};
    std::string payload;
    IoStatus status = read_frame(fd_, header, payload, timeout_, error);
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
            out.append(payload);
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
            body_done_ = true;
            broken_ = true;
            error_status = 400;
            error = "unexpected frame from the Apache child while reading the body";
            return ReadStatus::kError;
    }
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

bool DaemonChannel::flush_headers(std::string& error) {
    if (!pending_headers_ || headers_sent_.exchange(true)) {
        return true;
    }
    return write(protocol::encode_headers(*pending_headers_), {}, error);
}

bool DaemonChannel::send_body(const char* data, std::size_t length, wsgi::Pass pass,
                              std::string& error) {
    if (!flush_headers(error)) {
        return false;
    }
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
        if ((!piece.empty() || flags != 0) &&
            !write(protocol::encode_data_header(FrameType::kData, piece.size(), flags), piece,
                   error)) {
            return false;
        }
    } while (!rest.empty());
    return true;
}

bool DaemonChannel::send_file(int fd, std::int64_t offset, std::int64_t length, bool use_sendfile,
                              bool end, std::string& error) {
    if (!flush_headers(error)) {
        return false;
    }
    if (length > 0) {
        // The descriptor goes to the Apache child (SCM_RIGHTS), which sends the file itself
        // (sendfile when allowed): no copy of the file through this socket.
        protocol::FileFrame file;
        file.offset = static_cast<std::uint64_t>(offset);
        file.length = static_cast<std::uint64_t>(length);
        file.use_sendfile = use_sendfile;
        file.end = end;
        IoStatus status = write_with_fd(fd_, protocol::encode_file(file), fd, timeout_);
        if (status != IoStatus::kOk) {
            broken_ = true;
            error = "passing the file to the Apache child: " + describe(status, errno);
            return false;
        }
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
    return flush_headers(error) && write(protocol::encode_empty(FrameType::kEnd), {}, error);
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
    write(protocol::encode_empty(FrameType::kRestart), {}, ignored);
}

void DaemonChannel::abandon_with_timeout() {
    broken_ = true;
    if (!headers_sent_.exchange(true)) {
        write_all(fd_, protocol::encode_error(FrameType::kError, {504, "request-timeout"}),
                  Millis(1000));
    }
    shutdown(fd_, SHUT_RDWR);
}

void DaemonChannel::log(int level, const std::string& line) {
    apache::log_line(level, nullptr, server_, "[client " + request_.client + "] " + line);
}

}  // namespace wsgi::daemon
