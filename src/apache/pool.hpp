#pragma once
// C++ objects owned by APR pools: placement-new into pool memory plus a pool cleanup that
// runs the destructor, so configuration objects can hold std::string / std::optional and
// still live and die with Apache's configuration pool.

#include <apr_pools.h>

#include <new>
#include <utility>

namespace wsgi::apache {

template <class T>
apr_status_t destroy_pool_object(void* object) noexcept {
    static_cast<T*>(object)->~T();
    return APR_SUCCESS;
}

// Constructs a T in `pool`; it is destroyed when the pool is cleared or destroyed. Never
// put Python references in such an object (see python/ref.hpp).
template <class T, class... Args>
T* make_pool_object(apr_pool_t* pool, Args&&... args) {
    void* memory = apr_palloc(pool, sizeof(T));
    T* object = new (memory) T(std::forward<Args>(args)...);
    apr_pool_cleanup_register(pool, object, destroy_pool_object<T>, apr_pool_cleanup_null);
    return object;
}

}  // namespace wsgi::apache
