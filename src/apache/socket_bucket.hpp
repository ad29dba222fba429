#pragma once
// The bucket Apache's core input filter reads the client connection through, installed by
// this module's insert_network_bucket hook (http_core.h) in place of APR's socket bucket.
//
// APR's socket bucket (apr_buckets_socket.c) reads at most APR_BUCKET_BUFF_SIZE (8000) bytes
// a call, so a 64 KiB request body costs nine recv calls and a tenth that finds nothing. This
// one behaves the same (same blocking rules, same morph into a heap bucket followed by a new
// socket bucket, same empty bucket at the end of the stream) but a reader that knows a larger
// amount is coming (the request body, read by wsgi.input or passed to a daemon process) may
// raise the size of its reads for the time of one ap_get_brigade call (SocketReadScope), and
// may have them made straight into its own buffer (the bytes object the application gets)
// instead of a heap buffer that it would copy from. Everything else (request lines, headers,
// other handlers) reads 8000 bytes a call into heap buckets, as with APR's bucket. Needs only
// APR and APR-util, no httpd symbols.

#include <apr_buckets.h>
#include <apr_network_io.h>

namespace wsgi::apache {

struct PlacedRead;  // socket_bucket.cpp: one read made into a reader's buffer

// How one connection's socket bucket reads: how much, and where to. One per connection, in
// the connection's pool; only the thread serving the connection touches it. Set for the time
// of one ap_get_brigade call (and the taking of what it gave) by SocketReadScope.
struct SocketReadSize {
    // The size of the next socket reads (bytes): 0 (or anything below 8000) for
    // APR_BUCKET_BUFF_SIZE, at most kMaxSocketRead.
    apr_size_t wanted = 0;
    // Where the next read goes, when not null and `room` is at least APR_BUCKET_BUFF_SIZE:
    // the reader's own buffer (e.g. the bytes object wsgi.input.read returns), `room` bytes
    // of it, moved on by each read. The bytes read there are handed out as kPlacedBucketType
    // buckets; they are copied out of the buffer (evict_placed) before anything may change or
    // free it.
    char* destination = nullptr;
    apr_size_t room = 0;  // bytes
    // A non-blocking read gives APR_EAGAIN at once, without asking the socket: a reader's
    // ap_get_brigade then gets only what Apache's core input filter holds already.
    bool buffered_only = false;
    PlacedRead* placed = nullptr;  // the placed reads whose data is still in the buffer
};

// The most one socket read asks for (bytes): the buffer is allocated before the read and
// held by the heap bucket until its data is consumed.
inline constexpr apr_size_t kMaxSocketRead = 256 * 1024;

// The bucket type, named "WSGI_SOCKET"; data buckets, not splittable, not copyable, not to
// be set aside (as APR's socket bucket).
extern const apr_bucket_type_t kSocketBucketType;

// The bucket type of data read into a reader's buffer, named "WSGI_PLACED": a data bucket
// whose bytes are in the buffer until evicted, then in a copy from the bucket allocator.
// Splits and copies share the read (reference counted, as heap buckets); setting it aside
// evicts it. Read once evicted, it gives the same bytes from the copy; APR_ENOMEM if the
// copy could not be allocated.
extern const apr_bucket_type_t kPlacedBucketType;

// Creates a bucket reading `socket` (not owned: it belongs to the connection) with reads
// sized by `size` (may be null: always 8000 bytes; else must outlive every bucket made from
// it, e.g. both in the connection pool). Reading it (apr_bucket_read) does one recv of the
// current size, blocking or not as asked (APR_NONBLOCK_READ gives APR_EAGAIN when nothing
// has arrived, or at once when size->buffered_only, the bucket unchanged); data morphs the
// bucket into a heap bucket (or, when size->destination is set with room for 8000 bytes or
// more, a placed bucket over the destination, which moves on past it) followed by a new
// socket bucket, and lowers
// size->wanted by its length; the end of the stream morphs it into an empty bucket, no socket
// bucket after it; a socket error is returned as is.
apr_bucket* socket_bucket_create(apr_socket_t* socket, SocketReadSize* size,
                                 apr_bucket_alloc_t* list);

// Copies the data of every placed read of `size` that overlaps [begin, begin + length) out of
// the reader's buffer (the whole read, into the bucket allocator), so that the buffer may be
// written there; their buckets read the copy from then on (a pointer got from apr_bucket_read
// before is stale: read the bucket again). Returns whether any read was copied. A null `size`
// does nothing.
bool evict_placed(SocketReadSize* size, const char* begin, apr_size_t length) noexcept;

// Where the socket reads of one reader go (SocketReadScope).
struct ReadTarget {
    char* destination = nullptr;  // the reader's buffer, or null: heap buckets
    apr_size_t room = 0;          // bytes at destination
    bool buffered_only = false;   // non-blocking reads do not ask the socket
};

// Raises a connection's socket read size to `wanted` bytes (clamped to kMaxSocketRead) and
// sets where the reads go for the scope's lifetime; at its end copies every placed read out
// of the reader's buffer (evict_placed over everything), then puts back what was there
// before. Each read through the bucket lowers the size by the bytes it got. A null `size` (a
// connection whose input is not read through this bucket, e.g. an HTTP/2 stream) makes it do
// nothing.
class SocketReadScope {
public:
    SocketReadScope(SocketReadSize* size, apr_size_t wanted, ReadTarget target = {}) noexcept;
    ~SocketReadScope();
    SocketReadScope(const SocketReadScope&) = delete;
    SocketReadScope& operator=(const SocketReadScope&) = delete;

private:
    SocketReadSize* size_;
    SocketReadSize previous_;
};

}  // namespace wsgi::apache
