// libFuzzer target over the daemon wire protocol's decoders (issue 5: "the wire protocol
// parser rejects every malformed frame cleanly"). Built with clang's -fsanitize=fuzzer,address,
// undefined by scripts/test.sh and run for a bounded time; any crash, leak or sanitizer report
// fails the run.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/protocol.hpp"
#include "daemon/request_meta.hpp"

using namespace wsgi::daemon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    std::string error;
    // The first 8 bytes as a frame header, the rest as each kind of payload.
    if (size >= protocol::kHeaderSize) {
        auto header = protocol::decode_header(bytes.substr(0, protocol::kHeaderSize), error);
        if (header && header->length > protocol::kMaxPayload) {
            __builtin_trap();  // decode_header must have refused it
        }
    }
    // What a daemon process reads from a connection it hands back (any bytes at all): the body
    // it finds must be a view inside them.
    if (auto body = protocol::early_body_of(bytes); body && !body->empty() &&
        (body->data() < bytes.data() ||
         body->data() + body->size() > bytes.data() + bytes.size())) {
        __builtin_trap();
    }
    std::string_view payload = size > 0 ? bytes.substr(1) : bytes;
    switch (size > 0 ? data[0] % 5 : 0) {
        case 0: {
            protocol::RequestFrame request;
            if (protocol::decode_request(payload, request, error)) {
                DaemonRequest meta;
                decode_meta(request.meta, meta, error);
                // A decoded frame must encode back to the same bytes.
                std::string again = protocol::encode_request(request);
                if (std::string_view(again).substr(protocol::kHeaderSize) != payload) {
                    __builtin_trap();
                }
            }
            break;
        }
        case 1: {
            protocol::HeadersFrame headers;
            protocol::decode_headers(payload, headers, error);
            break;
        }
        case 2: {
            protocol::ErrorFrame failure;
            protocol::decode_error(payload, failure, error);
            break;
        }
        case 3: {
            protocol::FileFrame file;
            if (protocol::decode_file(payload, file, error) &&
                file.offset + file.length < file.offset) {
                __builtin_trap();  // decode_file must refuse ranges that overflow
            }
            break;
        }
        default: {
            std::uint32_t wanted = 0;
            protocol::decode_read(payload, wanted, error);
            break;
        }
    }
    return 0;
}
