#include "apache/socket_bucket.hpp"

#include <algorithm>

namespace wsgi::apache {
namespace {

// What a socket bucket points at, from the bucket allocator: handed on to the socket bucket
// that follows the data read, freed with the last one.
struct SocketSource {
    apr_socket_t* socket;
    SocketReadSize* size;
};

apr_size_t read_size(const SocketSource& source) {
    apr_size_t wanted = source.size != nullptr ? source.size->wanted : 0;
    return std::clamp<apr_size_t>(wanted, APR_BUCKET_BUFF_SIZE, kMaxSocketRead);
}

// A bucket of kSocketBucketType reading `source` (owned by the bucket from now on).
apr_bucket* make_socket_bucket(SocketSource* source, apr_bucket_alloc_t* list) {
    auto* bucket = static_cast<apr_bucket*>(apr_bucket_alloc(sizeof(apr_bucket), list));
    APR_BUCKET_INIT(bucket);
    bucket->free = apr_bucket_free;
    bucket->list = list;
    bucket->type = &kSocketBucketType;
    bucket->length = static_cast<apr_size_t>(-1);
    bucket->start = -1;  // as APR's socket bucket: no offset into anything
    bucket->data = source;
    return bucket;
}

void destroy_socket_bucket(void* data) noexcept {
    apr_bucket_free(data);
}

apr_status_t read_socket_bucket(apr_bucket* bucket, const char** str, apr_size_t* len,
                                apr_read_type_e block) noexcept {
    auto* source = static_cast<SocketSource*>(bucket->data);
    apr_socket_t* socket = source->socket;
    apr_interval_time_t timeout = 0;
    if (block == APR_NONBLOCK_READ) {
        apr_socket_timeout_get(socket, &timeout);
        apr_socket_timeout_set(socket, 0);
    }
    const apr_size_t capacity = read_size(*source);
    auto* buffer = static_cast<char*>(apr_bucket_alloc(capacity, bucket->list));
    *str = nullptr;
    *len = capacity;
    apr_status_t status = buffer != nullptr ? apr_socket_recv(socket, buffer, len) : APR_ENOMEM;
    if (block == APR_NONBLOCK_READ) {
        apr_socket_timeout_set(socket, timeout);
    }
    if (status != APR_SUCCESS && status != APR_EOF) {
        if (buffer != nullptr) {
            apr_bucket_free(buffer);
        }
        *len = 0;
        return status;  // the bucket stays a socket bucket
    }
    if (*len == 0) {  // the end of the stream: as APR's bucket, an empty bucket, no socket after
        apr_bucket_free(buffer);
        apr_bucket_free(source);
        apr_bucket_immortal_make(bucket, "", 0);
        *str = static_cast<const char*>(bucket->data);
        return APR_SUCCESS;
    }
    // What the reader expects is that much nearer: the next reads of the same ap_get_brigade
    // (the core input filter reads on while data keeps coming) allocate only what is still to
    // come, so that the buffers alive at once add up to about what was asked for, as they do
    // with 8000-byte reads.
    if (source->size != nullptr) {
        source->size->wanted -= std::min(source->size->wanted, *len);
    }
    // The data read becomes a heap bucket owning the buffer; the source moves to a new
    // socket bucket after it, which reads what comes next.
    apr_bucket_heap_make(bucket, buffer, *len, apr_bucket_free);
    static_cast<apr_bucket_heap*>(bucket->data)->alloc_len = capacity;
    *str = buffer;
    APR_BUCKET_INSERT_AFTER(bucket, make_socket_bucket(source, bucket->list));
    return APR_SUCCESS;
}

}  // namespace

const apr_bucket_type_t kSocketBucketType = {
    "WSGI_SOCKET",         5,
    apr_bucket_type_t::APR_BUCKET_DATA,
    destroy_socket_bucket, read_socket_bucket,
    apr_bucket_setaside_notimpl,
    apr_bucket_split_notimpl,
    apr_bucket_copy_notimpl,
};

apr_bucket* socket_bucket_create(apr_socket_t* socket, SocketReadSize* size,
                                 apr_bucket_alloc_t* list) {
    auto* source = static_cast<SocketSource*>(apr_bucket_alloc(sizeof(SocketSource), list));
    *source = SocketSource{socket, size};
    return make_socket_bucket(source, list);
}

}  // namespace wsgi::apache
