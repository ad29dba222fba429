#pragma once
// How Apache's core input filter reads the client connection for this module: the
// insert_network_bucket hook (http_core.h) seeds it with this module's socket bucket
// (apache/socket_bucket.hpp), whose read size the body readers raise while they read a
// request body (EmbeddedChannel, for embedded mode and for the body passed to a daemon).

#include <httpd.h>
#include <apr_buckets.h>

#include "apache/socket_bucket.hpp"

namespace wsgi::apache {

// insert_network_bucket hook, registered at APR_HOOK_LAST (before the core's REALLY_LAST, after
// any other module that brings its own network bucket): puts a socket_bucket_create() bucket
// for `socket` at the end of `bb` and keeps its SocketReadSize, from c->pool, in the
// connection config. Called once per connection, in the thread serving it. Always
// APR_SUCCESS.
apr_status_t insert_network_bucket(conn_rec* c, apr_bucket_brigade* bb,
                                   apr_socket_t* socket) noexcept;

// The read size of connection `c`, null when its input does not come through this module's
// socket bucket (another module's network bucket, an HTTP/2 stream, a connection not read yet).
SocketReadSize* socket_read_size(conn_rec* c) noexcept;

}  // namespace wsgi::apache
