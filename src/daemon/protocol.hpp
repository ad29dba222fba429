#pragma once
// The wire protocol between an Apache child and a daemon process, over a UNIX stream
// connection that carries one conversation after another (the Apache child keeps it between
// requests). Pure: no httpd, no Python, no I/O; every decoder checks every
// length against what it was given, so a corrupt or hostile peer gets an error, never an
// out-of-bounds access.
//
// Every frame is an 8-byte header then `length` payload bytes:
//   byte 0: 'W' (0x57), byte 1: kVersion, byte 2: type, byte 3: flags,
//   bytes 4-7: payload length, big-endian, at most kMaxPayload.
// A conversation: the child sends kRequest; the daemon answers with kRead (the child replies
// kBodyData, kBodyEnd or kBodyError), kHeaders, kData, kEnd, kAbort, kError or kRestart
// until the response ends. A kRequest flagged kWithBody is followed at once by one kBodyData
// frame with the first bytes of the body (kLast on it: all of the body), which the daemon
// hands out before it asks for more with kRead. Between two conversations the daemon sends nothing but, when it
// hands the connection back (restarting, stopping, or all its threads busy), one kRestart
// before closing it: a request the child sent meanwhile is then sent again elsewhere.
// The payload of a kRestart is the body bytes sent with the request (kWithBody), if the daemon
// received them: the child does not keep them once they have gone out (for a method that is
// not idempotent), so it sends them again from here. Before it hands a connection back without
// having read it, the daemon shuts down its reading side, so that a request the child sends
// after that fails to go out (EPIPE) and stays with the child, and reads what was sent before
// (see early_body_of()).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsgi::daemon::protocol {

constexpr std::uint8_t kMagic = 0x57;
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeaderSize = 8;
constexpr std::uint32_t kMaxPayload = 16 * 1024 * 1024;

enum class FrameType : std::uint8_t {
    // Apache child -> daemon.
    kRequest = 1,    // RequestFrame
    kBodyData = 2,   // request body bytes, answering kRead
    kBodyEnd = 3,    // no more request body
    kBodyError = 4,  // reading the body failed: ErrorFrame
    // Daemon -> Apache child.
    kRead = 10,      // u32: how many body bytes the application wants at most
    kHeaders = 11,   // HeadersFrame
    kData = 12,      // response body bytes; flags kFlush: pass them on now, kLast: the end
    kEnd = 13,       // the response is complete
    kAbort = 14,     // the response broke after its headers: cut the client connection
    kError = 15,     // ErrorFrame: nothing was sent, answer with this status
    kRestart = 16,   // not served here (restarting, busy): send the request again elsewhere;
                     // payload: the body bytes sent with the request (kWithBody), or none
    kFile = 17,      // FileFrame; the file's descriptor rides along (SCM_RIGHTS)
};

// On kRequest: a kBodyData frame with the body's first bytes follows.
constexpr std::uint8_t kWithBody = 0x01;

constexpr std::uint8_t kFlush = 0x01;
// On kData: the last bytes of the response; no kEnd follows. On the kBodyData after a
// kRequest: the whole body. Passing them to Apache together
// with the end of the response lets it compute Content-Length for a one-block response.
constexpr std::uint8_t kLast = 0x02;

struct FrameHeader {
    FrameType type;
    std::uint8_t flags = 0;
    std::uint32_t length = 0;
};

// Writes the 8 header bytes for a frame into `out` (appends).
void append_header(std::string& out, FrameType type, std::uint8_t flags, std::uint32_t length);

// Decodes 8 header bytes. Returns nullopt and sets `error` for a wrong magic or version, an
// unknown type or a length above kMaxPayload.
std::optional<FrameHeader> decode_header(std::string_view bytes, std::string& error);

using Pairs = std::vector<std::pair<std::string, std::string>>;

// kRequest: what the daemon needs to run the application.
struct RequestFrame {
    Pairs meta;     // script, groups, settings (see daemon/request_meta.hpp)
    Pairs environ;  // the CGI/HTTP string variables of the environ
};

// kHeaders: the response status and headers, validated again by the Apache child.
struct HeadersFrame {
    int status = 0;
    std::string status_line;
    std::optional<std::int64_t> content_length;
    Pairs headers;
};

// kFile: send `length` bytes of the attached file from `offset` (wsgi.file_wrapper), with
// sendfile when `use_sendfile`; `end` also ends the response.
struct FileFrame {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    bool use_sendfile = false;
    bool end = false;
};

// kError / kBodyError.
struct ErrorFrame {
    int status = 0;
    std::string message;
};

// Whole frames (header and payload), ready to write.
std::string encode_request(const RequestFrame& frame, std::uint8_t flags = 0);

// Builds the same kRequest frame as encode_request() pair by pair, straight into the frame,
// without a list of copies first: add() the meta pairs, next_list(), add() the environ pairs,
// then finish().
class RequestEncoder {
public:
    RequestEncoder();
    void add(std::string_view key, std::string_view value);
    // Ends the meta list; the pairs added next are the environ's.
    void next_list();
    // The whole frame; the encoder is spent.
    std::string finish(std::uint8_t flags);

private:
    void close_list();

    std::string out_;
    std::size_t count_at_ = 0;  // where the current list's count goes
    std::uint32_t count_ = 0;
};
std::string encode_headers(const HeadersFrame& frame);
std::string encode_error(FrameType type, const ErrorFrame& frame);
std::string encode_read(std::uint32_t max_bytes);
std::string encode_file(const FileFrame& frame);
std::string encode_empty(FrameType type);
// Only the header of a data frame (kData or kBodyData) carrying `length` bytes.
std::string encode_data_header(FrameType type, std::size_t length, std::uint8_t flags);

// Given the bytes an Apache child sent on a connection that the daemon had not read from yet:
// the body bytes of a kRequest flagged kWithBody, when `bytes` hold that frame and the whole
// kBodyData frame after it; an empty view for a whole kRequest without kWithBody; nullopt
// when `bytes` hold no whole request (nothing, a part, or something else).
std::optional<std::string_view> early_body_of(std::string_view bytes);

// Payload decoders: false with `error` set when the payload is malformed (truncated,
// lengths past its end, trailing bytes, counts too large, out-of-range numbers).
bool decode_request(std::string_view payload, RequestFrame& frame, std::string& error);
bool decode_headers(std::string_view payload, HeadersFrame& frame, std::string& error);
bool decode_error(std::string_view payload, ErrorFrame& frame, std::string& error);
bool decode_read(std::string_view payload, std::uint32_t& max_bytes, std::string& error);
bool decode_file(std::string_view payload, FileFrame& frame, std::string& error);

}  // namespace wsgi::daemon::protocol
