#pragma once
// The Python objects an interpreter reuses from one environ to the next: its variable names,
// interned once (NGINX Unit's nxt_python_wsgi.c does the same), and the last value of each
// variable, which for most of them (SERVER_NAME, SCRIPT_NAME, REQUEST_METHOD...) is the same
// in every request. str objects are immutable, so handing the same one to several requests
// is safe; they must never cross interpreters, hence one cache per interpreter (WsgiState).

#include <Python.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "python/ref.hpp"

namespace wsgi::wsgi {

class EnvironCache {
public:
    // Names past this many (apart from the fixed ones) are not cached: request headers and
    // SetEnv names are chosen by clients and configurations, and must not grow it forever.
    static constexpr std::size_t kMaxNames = 256;
    // Longer values are not kept for reuse (Cookie, long query strings): they rarely repeat.
    static constexpr std::size_t kMaxValueLength = 256;
    static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);

    // `fixed_slots` names are set by slot number (set()'s `slot`), without a lookup.
    explicit EnvironCache(std::size_t fixed_slots) : entries_(fixed_slots) {}

    // environ[name] = value decoded as latin-1 (PEP 3333 "Unicode Issues"), with the cached
    // name and, when the text is the one seen last time, the cached value. `slot` is the
    // fixed slot of `name` or kNoSlot. GIL held, the cache's interpreter current. Returns
    // false with a Python exception set (e.g. a name that is not UTF-8).
    bool set(PyObject* environ, std::size_t slot, std::string_view name, std::string_view value);

    // The interned str `name` for a fixed slot (borrowed), or nullptr with an exception set.
    // GIL held.
    PyObject* key(std::size_t slot, std::string_view name);

    // environ[name] = `value` (borrowed), with the cached name of fixed slot `slot`. GIL held.
    bool set_object(PyObject* environ, std::size_t slot, std::string_view name, PyObject* value) {
        PyObject* cached_key = key(slot, name);
        return cached_key != nullptr && PyDict_SetItem(environ, cached_key, value) == 0;
    }

    // environ[name] = the object of fixed slot `slot`, made by `make()` (a new reference, or
    // nullptr with an exception set) the first time: for values that never change (an
    // immutable wsgi.version tuple). GIL held.
    template <class Make>
    bool set_constant(PyObject* environ, std::size_t slot, std::string_view name, Make&& make) {
        Entry& entry = entries_[slot];
        if (!entry.value) {
            entry.value = python::Ref::steal(make());
            if (!entry.value) {
                return false;
            }
        }
        return set_object(environ, slot, name, entry.value.get());
    }

    // Number of names cached (fixed slots used plus others).
    std::size_t size() const { return names_.size() + fixed_used_; }

private:
    struct Entry {
        python::Ref key;
        python::Ref value;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const {
            return std::hash<std::string_view>{}(text);
        }
    };

    Entry* find_or_add(std::string_view name);

    std::vector<Entry> entries_;  // fixed slots first, then the names_ ones
    std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>> names_;
    std::size_t fixed_used_ = 0;
};

}  // namespace wsgi::wsgi
