#include "apache/connection_input.hpp"

#include <http_config.h>

#include "apache/log.hpp"  // declares wsgi_module

namespace wsgi::apache {

apr_status_t insert_network_bucket(conn_rec* c, apr_bucket_brigade* bb,
                                   apr_socket_t* socket) noexcept {
    auto* size = static_cast<SocketReadSize*>(apr_pcalloc(c->pool, sizeof(SocketReadSize)));
    ap_set_module_config(c->conn_config, &wsgi_module, size);
    APR_BRIGADE_INSERT_TAIL(bb, socket_bucket_create(socket, size, c->bucket_alloc));
    return APR_SUCCESS;
}

SocketReadSize* socket_read_size(conn_rec* c) noexcept {
    return static_cast<SocketReadSize*>(ap_get_module_config(c->conn_config, &wsgi_module));
}

}  // namespace wsgi::apache
