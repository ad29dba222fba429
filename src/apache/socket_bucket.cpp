#include "apache/socket_bucket.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace wsgi::apache {

// One socket read made into a reader's buffer, shared by the placed buckets over it (the
// first one, and its splits and copies).
struct PlacedRead {
    apr_bucket_refcount refcount;  // first: the apr_bucket_shared_* functions use it
    const char* data;              // the bytes read: in the reader's buffer, else `copy`
    apr_size_t length;             // bytes
    char* copy;                    // from the bucket allocator once evicted (null before)
    apr_bucket_alloc_t* list;
    // While the data is in the reader's buffer: the connection's list it is on.
    SocketReadSize* owner;
    PlacedRead* prev;
    PlacedRead* next;
};

namespace {

void unlink(PlacedRead* read) noexcept {
    if (read->owner == nullptr) {
        return;
    }
    if (read->prev != nullptr) {
        read->prev->next = read->next;
    } else {
        read->owner->placed = read->next;
    }
    if (read->next != nullptr) {
        read->next->prev = read->prev;
    }
    read->owner = nullptr;
    read->prev = read->next = nullptr;
}

// Copies the read out of the reader's buffer. Should the copy not be allocated, its buckets
// give APR_ENOMEM rather than bytes the buffer may no longer hold.
void evict(PlacedRead* read) noexcept {
    unlink(read);
    auto* copy = static_cast<char*>(apr_bucket_alloc(read->length, read->list));
    if (copy != nullptr) {
        std::memcpy(copy, read->data, read->length);
    }
    read->copy = copy;
    read->data = copy;
}

void destroy_placed_bucket(void* data) noexcept {
    auto* read = static_cast<PlacedRead*>(data);
    if (apr_bucket_shared_destroy(read)) {
        unlink(read);
        if (read->copy != nullptr) {
            apr_bucket_free(read->copy);
        }
        apr_bucket_free(read);
    }
}

apr_status_t read_placed_bucket(apr_bucket* bucket, const char** str, apr_size_t* len,
                                apr_read_type_e /*block*/) noexcept {
    auto* read = static_cast<PlacedRead*>(bucket->data);
    if (read->data == nullptr) {
        *str = nullptr;
        *len = 0;
        return APR_ENOMEM;
    }
    *str = read->data + bucket->start;
    *len = bucket->length;
    return APR_SUCCESS;
}

// Whoever sets a bucket aside keeps it past the reader's read: out of the buffer with it.
apr_status_t setaside_placed_bucket(apr_bucket* bucket, apr_pool_t* /*pool*/) noexcept {
    auto* read = static_cast<PlacedRead*>(bucket->data);
    if (read->owner != nullptr) {
        evict(read);
    }
    return read->data != nullptr ? APR_SUCCESS : APR_ENOMEM;
}

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
    SocketReadSize* size = source->size;
    *str = nullptr;
    *len = 0;
    if (block == APR_NONBLOCK_READ && size != nullptr && size->buffered_only) {
        return APR_EAGAIN;
    }
    // Into the reader's buffer when it has room there for a read at least as large as
    // APR's (the record of the read allocated first: once bytes are in, nothing may fail),
    // else into a new heap buffer: a reader asking for a few bytes at a time is served from
    // one 8000-byte read kept by the core input filter, not by a read call each.
    const bool placed = size != nullptr && size->destination != nullptr &&
                        size->room >= APR_BUCKET_BUFF_SIZE;
    apr_size_t capacity = read_size(*source);
    char* buffer = nullptr;
    PlacedRead* read = nullptr;
    if (placed) {
        capacity = std::min(capacity, size->room);
        read = static_cast<PlacedRead*>(apr_bucket_alloc(sizeof(PlacedRead), bucket->list));
        buffer = read != nullptr ? size->destination : nullptr;
    } else {
        buffer = static_cast<char*>(apr_bucket_alloc(capacity, bucket->list));
    }
    if (buffer == nullptr) {
        return APR_ENOMEM;
    }
    apr_socket_t* socket = source->socket;
    apr_interval_time_t timeout = 0;
    if (block == APR_NONBLOCK_READ) {
        apr_socket_timeout_get(socket, &timeout);
        apr_socket_timeout_set(socket, 0);
    }
    *len = capacity;
    apr_status_t status = apr_socket_recv(socket, buffer, len);
    if (block == APR_NONBLOCK_READ) {
        apr_socket_timeout_set(socket, timeout);
    }
    const bool end = status == APR_EOF || (status == APR_SUCCESS && *len == 0);
    if (end || status != APR_SUCCESS) {
        apr_bucket_free(placed ? static_cast<void*>(read) : buffer);
    }
    if (status != APR_SUCCESS && status != APR_EOF) {
        *len = 0;
        return status;  // the bucket stays a socket bucket
    }
    if (end) {  // the end of the stream: as APR's bucket, an empty bucket, no socket after
        apr_bucket_free(source);
        apr_bucket_immortal_make(bucket, "", 0);
        *str = static_cast<const char*>(bucket->data);
        return APR_SUCCESS;
    }
    // What the reader expects is that much nearer: the next reads of the same ap_get_brigade
    // (the core input filter reads on while data keeps coming) allocate only what is still to
    // come, so that the buffers alive at once add up to about what was asked for, as they do
    // with 8000-byte reads.
    if (size != nullptr) {
        size->wanted -= std::min(size->wanted, *len);
    }
    if (placed) {
        // The data stays where it is; the next read goes after it.
        *read = PlacedRead{{}, buffer, *len, nullptr, bucket->list, size, nullptr, size->placed};
        if (size->placed != nullptr) {
            size->placed->prev = read;
        }
        size->placed = read;
        size->destination += *len;
        size->room -= *len;
        apr_bucket_shared_make(bucket, read, 0, *len);
        bucket->type = &kPlacedBucketType;
    } else {
        // The data read becomes a heap bucket owning the buffer.
        apr_bucket_heap_make(bucket, buffer, *len, apr_bucket_free);
        static_cast<apr_bucket_heap*>(bucket->data)->alloc_len = capacity;
    }
    *str = buffer;
    // The source moves to a new socket bucket after the data, which reads what comes next.
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

const apr_bucket_type_t kPlacedBucketType = {
    "WSGI_PLACED",          5,
    apr_bucket_type_t::APR_BUCKET_DATA,
    destroy_placed_bucket,  read_placed_bucket,
    setaside_placed_bucket,
    apr_bucket_shared_split,
    apr_bucket_shared_copy,
};

apr_bucket* socket_bucket_create(apr_socket_t* socket, SocketReadSize* size,
                                 apr_bucket_alloc_t* list) {
    auto* source = static_cast<SocketSource*>(apr_bucket_alloc(sizeof(SocketSource), list));
    *source = SocketSource{socket, size};
    return make_socket_bucket(source, list);
}

bool evict_placed(SocketReadSize* size, const char* begin, apr_size_t length) noexcept {
    if (size == nullptr) {
        return false;
    }
    // Addresses compared as integers: the reads and the range may be in different objects.
    const auto first = reinterpret_cast<std::uintptr_t>(begin);
    const auto last = first + length;
    bool moved = false;
    for (PlacedRead* read = size->placed; read != nullptr;) {
        PlacedRead* next = read->next;
        const auto start = reinterpret_cast<std::uintptr_t>(read->data);
        if (start < last && first < start + read->length) {
            evict(read);
            moved = true;
        }
        read = next;
    }
    return moved;
}

SocketReadScope::SocketReadScope(SocketReadSize* size, apr_size_t wanted,
                                 ReadTarget target) noexcept
    : size_(size) {
    if (size_ != nullptr) {
        previous_ = *size_;
        size_->wanted = std::min(wanted, kMaxSocketRead);
        size_->destination = target.destination;
        size_->room = target.destination != nullptr ? target.room : 0;
        size_->buffered_only = target.buffered_only;
    }
}

SocketReadScope::~SocketReadScope() {
    if (size_ == nullptr) {
        return;
    }
    while (size_->placed != nullptr) {
        evict(size_->placed);
    }
    size_->wanted = previous_.wanted;
    size_->destination = previous_.destination;
    size_->room = previous_.room;
    size_->buffered_only = previous_.buffered_only;
}

}  // namespace wsgi::apache
