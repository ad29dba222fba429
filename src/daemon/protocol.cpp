#include "daemon/protocol.hpp"

namespace wsgi::daemon::protocol {
namespace {

void put_u16(std::string& out, std::uint16_t value) {
    out.push_back(static_cast<char>(value >> 8));
    out.push_back(static_cast<char>(value & 0xff));
}

void put_u32(std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((value >> shift) & 0xff));
    }
}

void put_u64(std::string& out, std::uint64_t value) {
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((value >> shift) & 0xff));
    }
}

void put_string(std::string& out, std::string_view value) {
    put_u32(out, static_cast<std::uint32_t>(value.size()));
    out.append(value);
}

void put_pairs(std::string& out, const Pairs& pairs) {
    put_u32(out, static_cast<std::uint32_t>(pairs.size()));
    for (const auto& [key, value] : pairs) {
        put_string(out, key);
        put_string(out, value);
    }
}

// A bounds-checked reader over a payload.
class Reader {
public:
    explicit Reader(std::string_view data) : data_(data) {}

    bool u8(std::uint8_t& value) {
        if (data_.size() < 1) {
            return fail("truncated");
        }
        value = static_cast<std::uint8_t>(data_[0]);
        data_.remove_prefix(1);
        return true;
    }
    bool u16(std::uint16_t& value) {
        std::uint64_t wide = 0;
        if (!unsigned_be(2, wide)) {
            return false;
        }
        value = static_cast<std::uint16_t>(wide);
        return true;
    }
    bool u32(std::uint32_t& value) {
        std::uint64_t wide = 0;
        if (!unsigned_be(4, wide)) {
            return false;
        }
        value = static_cast<std::uint32_t>(wide);
        return true;
    }
    bool u64(std::uint64_t& value) { return unsigned_be(8, value); }
    bool string(std::string& value) {
        std::uint32_t length = 0;
        if (!u32(length)) {
            return false;
        }
        if (length > data_.size()) {
            return fail("string length past the end of the frame");
        }
        value.assign(data_.substr(0, length));
        data_.remove_prefix(length);
        return true;
    }
    bool pairs(Pairs& out) {
        std::uint32_t count = 0;
        if (!u32(count)) {
            return false;
        }
        // Each pair takes at least 8 bytes: refuse counts the payload cannot hold before
        // reserving anything.
        if (count > data_.size() / 8) {
            return fail("pair count larger than the frame");
        }
        out.clear();
        out.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            std::string key;
            std::string value;
            if (!string(key) || !string(value)) {
                return false;
            }
            out.emplace_back(std::move(key), std::move(value));
        }
        return true;
    }
    bool done() {
        if (!data_.empty()) {
            return fail("trailing bytes after the frame's content");
        }
        return true;
    }
    const std::string& error() const { return error_; }

private:
    bool unsigned_be(std::size_t size, std::uint64_t& value) {
        if (data_.size() < size) {
            return fail("truncated");
        }
        value = 0;
        for (std::size_t i = 0; i < size; ++i) {
            value = (value << 8) | static_cast<std::uint8_t>(data_[i]);
        }
        data_.remove_prefix(size);
        return true;
    }
    bool fail(const char* what) {
        if (error_.empty()) {
            error_ = what;
        }
        return false;
    }

    std::string_view data_;
    std::string error_;
};

std::string frame(FrameType type, std::uint8_t flags, const std::string& payload) {
    std::string out;
    out.reserve(kHeaderSize + payload.size());
    append_header(out, type, flags, static_cast<std::uint32_t>(payload.size()));
    out.append(payload);
    return out;
}

bool is_known(std::uint8_t type) {
    switch (static_cast<FrameType>(type)) {
        case FrameType::kRequest:
        case FrameType::kBodyData:
        case FrameType::kBodyEnd:
        case FrameType::kBodyError:
        case FrameType::kRead:
        case FrameType::kHeaders:
        case FrameType::kData:
        case FrameType::kEnd:
        case FrameType::kAbort:
        case FrameType::kError:
        case FrameType::kRestart:
        case FrameType::kFile:
            return true;
    }
    return false;
}

}  // namespace

void append_header(std::string& out, FrameType type, std::uint8_t flags, std::uint32_t length) {
    out.push_back(static_cast<char>(kMagic));
    out.push_back(static_cast<char>(kVersion));
    out.push_back(static_cast<char>(type));
    out.push_back(static_cast<char>(flags));
    put_u32(out, length);
}

std::optional<FrameHeader> decode_header(std::string_view bytes, std::string& error) {
    if (bytes.size() != kHeaderSize) {
        error = "frame header must be 8 bytes";
        return std::nullopt;
    }
    if (static_cast<std::uint8_t>(bytes[0]) != kMagic) {
        error = "not a mod_wsgi frame (bad magic byte)";
        return std::nullopt;
    }
    if (static_cast<std::uint8_t>(bytes[1]) != kVersion) {
        error = "unsupported protocol version " +
                std::to_string(static_cast<std::uint8_t>(bytes[1]));
        return std::nullopt;
    }
    auto type = static_cast<std::uint8_t>(bytes[2]);
    if (!is_known(type)) {
        error = "unknown frame type " + std::to_string(type);
        return std::nullopt;
    }
    std::uint32_t length = 0;
    for (std::size_t i = 4; i < 8; ++i) {
        length = (length << 8) | static_cast<std::uint8_t>(bytes[i]);
    }
    if (length > kMaxPayload) {
        error = "frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                std::to_string(kMaxPayload);
        return std::nullopt;
    }
    return FrameHeader{static_cast<FrameType>(type), static_cast<std::uint8_t>(bytes[3]), length};
}

std::string encode_request(const RequestFrame& request, std::uint8_t flags) {
    std::string payload;
    put_pairs(payload, request.meta);
    put_pairs(payload, request.environ);
    return frame(FrameType::kRequest, flags, payload);
}

RequestEncoder::RequestEncoder() {
    out_.reserve(2048);
    append_header(out_, FrameType::kRequest, 0, 0);  // completed by finish()
    count_at_ = out_.size();
    put_u32(out_, 0);
}

void RequestEncoder::add(std::string_view key, std::string_view value) {
    put_string(out_, key);
    put_string(out_, value);
    ++count_;
}

void RequestEncoder::close_list() {
    for (int i = 0; i < 4; ++i) {
        out_[count_at_ + static_cast<std::size_t>(i)] =
            static_cast<char>((count_ >> (24 - 8 * i)) & 0xff);
    }
}

void RequestEncoder::next_list() {
    close_list();
    count_at_ = out_.size();
    count_ = 0;
    put_u32(out_, 0);
}

std::string RequestEncoder::finish(std::uint8_t flags) {
    close_list();
    std::string header;
    append_header(header, FrameType::kRequest, flags,
                  static_cast<std::uint32_t>(out_.size() - kHeaderSize));
    out_.replace(0, kHeaderSize, header);
    return std::move(out_);
}

std::string encode_headers(const HeadersFrame& headers) {
    std::string payload;
    put_u16(payload, static_cast<std::uint16_t>(headers.status));
    put_string(payload, headers.status_line);
    payload.push_back(headers.content_length ? 1 : 0);
    put_u64(payload, headers.content_length ? static_cast<std::uint64_t>(*headers.content_length)
                                            : 0);
    put_pairs(payload, headers.headers);
    return frame(FrameType::kHeaders, 0, payload);
}

std::string encode_error(FrameType type, const ErrorFrame& error) {
    std::string payload;
    put_u16(payload, static_cast<std::uint16_t>(error.status));
    put_string(payload, error.message);
    return frame(type, 0, payload);
}

std::string encode_read(std::uint32_t max_bytes) {
    std::string payload;
    put_u32(payload, max_bytes);
    return frame(FrameType::kRead, 0, payload);
}

std::string encode_file(const FileFrame& file) {
    std::string payload;
    put_u64(payload, file.offset);
    put_u64(payload, file.length);
    payload.push_back(static_cast<char>((file.use_sendfile ? 1 : 0) | (file.end ? 2 : 0)));
    return frame(FrameType::kFile, 0, payload);
}

std::string encode_empty(FrameType type) { return frame(type, 0, ""); }

std::string encode_data_header(FrameType type, std::size_t length, std::uint8_t flags) {
    std::string out;
    append_header(out, type, flags, static_cast<std::uint32_t>(length));
    return out;
}

std::optional<std::string_view> early_body_of(std::string_view bytes) {
    std::string error;
    auto request = bytes.size() >= kHeaderSize
                       ? decode_header(bytes.substr(0, kHeaderSize), error)
                       : std::nullopt;
    if (!request || request->type != FrameType::kRequest ||
        bytes.size() - kHeaderSize < request->length) {
        return std::nullopt;
    }
    if ((request->flags & kWithBody) == 0) {
        return std::string_view();
    }
    std::string_view rest = bytes.substr(kHeaderSize + request->length);
    auto body = rest.size() >= kHeaderSize ? decode_header(rest.substr(0, kHeaderSize), error)
                                           : std::nullopt;
    if (!body || body->type != FrameType::kBodyData ||
        rest.size() - kHeaderSize < body->length) {
        return std::nullopt;
    }
    return rest.substr(kHeaderSize, body->length);
}

bool decode_request(std::string_view payload, RequestFrame& request, std::string& error) {
    Reader reader(payload);
    if (!reader.pairs(request.meta) || !reader.pairs(request.environ) || !reader.done()) {
        error = "bad request frame: " + reader.error();
        return false;
    }
    return true;
}

bool decode_headers(std::string_view payload, HeadersFrame& headers, std::string& error) {
    Reader reader(payload);
    std::uint16_t status = 0;
    std::uint8_t has_length = 0;
    std::uint64_t length = 0;
    if (!reader.u16(status) || !reader.string(headers.status_line) || !reader.u8(has_length) ||
        !reader.u64(length) || !reader.pairs(headers.headers) || !reader.done()) {
        error = "bad headers frame: " + reader.error();
        return false;
    }
    if (status < 100 || status > 999 || has_length > 1 ||
        length > static_cast<std::uint64_t>(INT64_MAX)) {
        error = "bad headers frame: value out of range";
        return false;
    }
    headers.status = status;
    headers.content_length = has_length ? std::optional<std::int64_t>(static_cast<std::int64_t>(length))
                                        : std::nullopt;
    return true;
}

bool decode_error(std::string_view payload, ErrorFrame& frame_out, std::string& error) {
    Reader reader(payload);
    std::uint16_t status = 0;
    if (!reader.u16(status) || !reader.string(frame_out.message) || !reader.done()) {
        error = "bad error frame: " + reader.error();
        return false;
    }
    if (status < 100 || status > 999) {
        error = "bad error frame: status out of range";
        return false;
    }
    frame_out.status = status;
    return true;
}

bool decode_read(std::string_view payload, std::uint32_t& max_bytes, std::string& error) {
    Reader reader(payload);
    if (!reader.u32(max_bytes) || !reader.done()) {
        error = "bad read frame: " + reader.error();
        return false;
    }
    if (max_bytes == 0) {
        error = "bad read frame: zero-byte read";
        return false;
    }
    return true;
}

bool decode_file(std::string_view payload, FileFrame& file, std::string& error) {
    Reader reader(payload);
    std::uint8_t flags = 0;
    if (!reader.u64(file.offset) || !reader.u64(file.length) || !reader.u8(flags) ||
        !reader.done()) {
        error = "bad file frame: " + reader.error();
        return false;
    }
    if ((flags & ~3u) != 0 || file.offset > static_cast<std::uint64_t>(INT64_MAX) ||
        file.length > static_cast<std::uint64_t>(INT64_MAX) - file.offset) {
        error = "bad file frame: value out of range";
        return false;
    }
    file.use_sendfile = (flags & 1) != 0;
    file.end = (flags & 2) != 0;
    return true;
}

}  // namespace wsgi::daemon::protocol
