#include "daemon/protocol.hpp"

#include <gtest/gtest.h>

namespace wsgi::daemon::protocol {
namespace {

std::string_view payload_of(const std::string& frame) {
    return std::string_view(frame).substr(kHeaderSize);
}

FrameHeader header_of(const std::string& frame) {
    std::string error;
    auto header = decode_header(std::string_view(frame).substr(0, kHeaderSize), error);
    EXPECT_TRUE(header.has_value()) << error;
    return header.value_or(FrameHeader{FrameType::kEnd, 0, 0});
}

TEST(Protocol, RequestRoundTrip) {
    RequestFrame request;
    request.meta = {{"script", "/srv/app.wsgi"}, {"group", ""}};
    request.environ = {{"REQUEST_METHOD", "GET"}, {"HTTP_X", std::string("a\0b\xff", 4)}};
    std::string frame = encode_request(request);
    FrameHeader header = header_of(frame);
    EXPECT_EQ(header.type, FrameType::kRequest);
    EXPECT_EQ(header.length, frame.size() - kHeaderSize);
    RequestFrame decoded;
    std::string error;
    ASSERT_TRUE(decode_request(payload_of(frame), decoded, error)) << error;
    EXPECT_EQ(decoded.meta, request.meta);
    EXPECT_EQ(decoded.environ, request.environ);
    EXPECT_EQ(header.flags, 0);
    EXPECT_EQ(header_of(encode_request(request, kWithBody)).flags, kWithBody);
}

TEST(Protocol, RequestEncoderBuildsTheSameFrame) {
    RequestFrame request;
    request.meta = {{"script", "/srv/app.wsgi"}, {"group", ""}, {"x", std::string(300, 'y')}};
    request.environ = {{"REQUEST_METHOD", "GET"}, {"HTTP_X", std::string("a\0b\xff", 4)}};
    RequestEncoder encoder;
    for (const auto& [key, value] : request.meta) {
        encoder.add(key, value);
    }
    encoder.next_list();
    for (const auto& [key, value] : request.environ) {
        encoder.add(key, value);
    }
    EXPECT_EQ(encoder.finish(kWithBody), encode_request(request, kWithBody));
    RequestEncoder empty;
    empty.next_list();
    EXPECT_EQ(empty.finish(0), encode_request(RequestFrame{}));
}

TEST(Protocol, HeadersRoundTrip) {
    HeadersFrame headers;
    headers.status = 201;
    headers.status_line = "201 Created";
    headers.content_length = 12;
    headers.headers = {{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}};
    std::string frame = encode_headers(headers);
    HeadersFrame decoded;
    std::string error;
    ASSERT_TRUE(decode_headers(payload_of(frame), decoded, error)) << error;
    EXPECT_EQ(decoded.status, 201);
    EXPECT_EQ(decoded.status_line, "201 Created");
    EXPECT_EQ(decoded.content_length, 12);
    EXPECT_EQ(decoded.headers, headers.headers);

    headers.content_length.reset();
    ASSERT_TRUE(decode_headers(payload_of(encode_headers(headers)), decoded, error)) << error;
    EXPECT_FALSE(decoded.content_length.has_value());
}

TEST(Protocol, ErrorAndReadRoundTrip) {
    ErrorFrame error_frame{413, "too large"};
    std::string frame = encode_error(FrameType::kBodyError, error_frame);
    EXPECT_EQ(header_of(frame).type, FrameType::kBodyError);
    ErrorFrame decoded;
    std::string error;
    ASSERT_TRUE(decode_error(payload_of(frame), decoded, error)) << error;
    EXPECT_EQ(decoded.status, 413);
    EXPECT_EQ(decoded.message, "too large");

    std::uint32_t max = 0;
    ASSERT_TRUE(decode_read(payload_of(encode_read(65536)), max, error)) << error;
    EXPECT_EQ(max, 65536u);
    EXPECT_FALSE(decode_read(payload_of(encode_read(0)), max, error));
}

TEST(Protocol, FileRoundTripAndRanges) {
    FileFrame file{4096, 10 * 1024 * 1024, true, true};
    std::string frame = encode_file(file);
    EXPECT_EQ(header_of(frame).type, FrameType::kFile);
    FileFrame decoded;
    std::string error;
    ASSERT_TRUE(decode_file(payload_of(frame), decoded, error)) << error;
    EXPECT_EQ(decoded.offset, 4096u);
    EXPECT_EQ(decoded.length, 10u * 1024 * 1024);
    EXPECT_TRUE(decoded.use_sendfile);
    EXPECT_TRUE(decoded.end);
    std::string payload(payload_of(frame));
    payload.back() = 4;  // an unknown flag
    EXPECT_FALSE(decode_file(payload, decoded, error));
    FileFrame huge{UINT64_MAX - 1, 10, false, false};
    EXPECT_FALSE(decode_file(payload_of(encode_file(huge)), decoded, error));
    EXPECT_FALSE(decode_file(payload_of(frame).substr(0, 10), decoded, error));
}

TEST(Protocol, DataHeaderCarriesFlagsAndLength) {
    FrameHeader header = header_of(encode_data_header(FrameType::kData, 1000, kFlush));
    EXPECT_EQ(header.type, FrameType::kData);
    EXPECT_EQ(header.flags, kFlush);
    EXPECT_EQ(header.length, 1000u);
}

// What a daemon process finds on a connection it hands back: the body bytes of a request sent
// whole with them, nothing for a request without, and no request for anything less or else.
TEST(Protocol, EarlyBodyOfAQueuedRequest) {
    RequestFrame request;
    request.meta = {{"script", "/srv/app.wsgi"}};
    request.environ = {{"REQUEST_METHOD", "POST"}};
    const std::string body(70000, 'b');
    const std::string sent = encode_request(request, kWithBody) +
                             encode_data_header(FrameType::kBodyData, body.size(), kLast) + body;
    auto found = early_body_of(sent);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, body);
    // Whatever the child sends past its request (nothing, in the protocol) is not body.
    const std::string more = sent + "more";
    found = early_body_of(more);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, body);

    const std::string without = encode_request(request);
    found = early_body_of(without);
    ASSERT_TRUE(found.has_value());
    EXPECT_TRUE(found->empty());

    for (std::size_t cut : {std::size_t{0}, std::size_t{3}, kHeaderSize, without.size() - 1,
                            sent.size() - body.size() - 1, sent.size() - 1}) {
        EXPECT_FALSE(early_body_of(std::string_view(sent).substr(0, cut)).has_value()) << cut;
    }
    EXPECT_FALSE(early_body_of("GET / HTTP/1.1\r\n\r\n").has_value());
    // A request flagged kWithBody followed by another frame than kBodyData.
    const std::string other =
        encode_request(request, kWithBody) + encode_empty(FrameType::kBodyEnd);
    EXPECT_FALSE(early_body_of(other).has_value());
    // Not a request at all.
    EXPECT_FALSE(early_body_of(encode_data_header(FrameType::kBodyData, 0, 0)).has_value());
}

TEST(Protocol, HeaderRejectsGarbage) {
    std::string error;
    EXPECT_FALSE(decode_header("GET / HT", error).has_value());
    EXPECT_NE(error.find("magic"), std::string::npos);
    std::string frame = encode_empty(FrameType::kEnd);
    frame[1] = 9;  // another version
    EXPECT_FALSE(decode_header(std::string_view(frame).substr(0, 8), error).has_value());
    frame = encode_empty(FrameType::kEnd);
    frame[2] = 99;  // unknown type
    EXPECT_FALSE(decode_header(std::string_view(frame).substr(0, 8), error).has_value());
    std::string huge;
    append_header(huge, FrameType::kData, 0, kMaxPayload + 1);
    EXPECT_FALSE(decode_header(huge, error).has_value());
    EXPECT_FALSE(decode_header("short", error).has_value());
}

TEST(Protocol, DecodersRejectEveryTruncation) {
    RequestFrame request;
    request.meta = {{"k", "v"}};
    request.environ = {{"A", "1"}, {"B", "22"}};
    std::string payload(payload_of(encode_request(request)));
    for (std::size_t cut = 0; cut < payload.size(); ++cut) {
        RequestFrame decoded;
        std::string error;
        EXPECT_FALSE(decode_request(std::string_view(payload).substr(0, cut), decoded, error))
            << "accepted a request frame cut at " << cut;
    }
    std::string error;
    RequestFrame decoded;
    EXPECT_FALSE(decode_request(payload + "x", decoded, error));  // trailing bytes
}

TEST(Protocol, HugeCountsAndLengthsAreRejected) {
    std::string payload;
    // A pair count of 2^32-1 with no pairs after it.
    payload.append("\xff\xff\xff\xff", 4);
    RequestFrame decoded;
    std::string error;
    EXPECT_FALSE(decode_request(payload, decoded, error));
    // One pair whose key claims 4 GiB.
    payload = std::string("\x00\x00\x00\x01", 4) + std::string("\xff\xff\xff\xf0", 4) + "abc";
    EXPECT_FALSE(decode_request(payload, decoded, error));
    // Odd number of strings: a key without a value.
    payload = std::string("\x00\x00\x00\x01", 4) + std::string("\x00\x00\x00\x01", 4) + "k";
    EXPECT_FALSE(decode_request(payload + std::string("\x00\x00\x00\x00", 4), decoded, error));
}

TEST(Protocol, HeadersOutOfRangeRejected) {
    HeadersFrame headers;
    headers.status = 200;
    headers.status_line = "200 OK";
    std::string payload(payload_of(encode_headers(headers)));
    payload[0] = 0;
    payload[1] = 5;  // status 5
    HeadersFrame decoded;
    std::string error;
    EXPECT_FALSE(decode_headers(payload, decoded, error));
}

}  // namespace
}  // namespace wsgi::daemon::protocol
