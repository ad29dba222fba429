#pragma once
// The bucket Apache's core input filter reads the client connection through, installed by
// this module's insert_network_bucket hook (http_core.h) in place of APR's socket bucket.
//
// APR's socket bucket (apr_buckets_socket.c) reads at most APR_BUCKET_BUFF_SIZE (8000) bytes
// a call, so a 64 KiB request body costs nine recv calls and a tenth that finds nothing. This
// one behaves the same (same blocking rules, same morph into a heap bucket followed by a new
// socket bucket, same empty bucket at the end of the stream) but a reader that knows a larger
// amount is coming (the request body, read by wsgi.input or passed to a daemon process) may
// raise the size of its reads for the time of one ap_get_brigade call (SocketReadScope).
// Everything else (request lines, headers, other handlers) reads 8000 bytes a call, as with
// APR's bucket. Needs only APR and APR-util, no httpd symbols.

#include <apr_buckets.h>
#include <apr_network_io.h>

namespace wsgi::apache {

// The size of the next socket reads of one connection: 0 (or anything below 8000) for
// APR_BUCKET_BUFF_SIZE, at most kMaxSocketRead. One per connection, in the connection's
// pool; only the thread serving the connection touches it.
struct SocketReadSize {
    apr_size_t wanted = 0;  // bytes
};

// The most one socket read asks for (bytes): the buffer is allocated before the read and
// held by the heap bucket until its data is consumed.
inline constexpr apr_size_t kMaxSocketRead = 256 * 1024;

// The bucket type, named "WSGI_SOCKET"; data buckets, not splittable, not copyable, not to
// be set aside (as APR's socket bucket).
extern const apr_bucket_type_t kSocketBucketType;

// Creates a bucket reading `socket` (not owned: it belongs to the connection) with reads
// sized by `size` (may be null: always 8000 bytes; else must outlive every bucket made from
// it, e.g. both in the connection pool). Reading it (apr_bucket_read) does one recv of the
// current size, blocking or not as asked (APR_NONBLOCK_READ gives APR_EAGAIN when nothing
// has arrived, the bucket unchanged); data morphs the bucket into a heap bucket followed by a
// new socket bucket, and lowers size->wanted by its length; the end of the stream morphs it
// into an empty bucket, no socket bucket after it; a socket error is returned as is.
apr_bucket* socket_bucket_create(apr_socket_t* socket, SocketReadSize* size,
                                 apr_bucket_alloc_t* list);

// Raises a connection's socket read size to `wanted` bytes (clamped to kMaxSocketRead) for
// the scope's lifetime, then puts back what it was. Each read through the bucket lowers it by
// the bytes it got. A null `size` (a connection whose input is not read through this bucket,
// e.g. an HTTP/2 stream) makes it do nothing.
class SocketReadScope {
public:
    SocketReadScope(SocketReadSize* size, apr_size_t wanted) noexcept : size_(size) {
        if (size_ != nullptr) {
            previous_ = size_->wanted;
            size_->wanted = wanted < kMaxSocketRead ? wanted : kMaxSocketRead;
        }
    }
    ~SocketReadScope() {
        if (size_ != nullptr) {
            size_->wanted = previous_;
        }
    }
    SocketReadScope(const SocketReadScope&) = delete;
    SocketReadScope& operator=(const SocketReadScope&) = delete;

private:
    SocketReadSize* size_;
    apr_size_t previous_ = 0;
};

}  // namespace wsgi::apache
