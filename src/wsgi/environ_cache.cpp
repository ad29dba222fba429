#include "wsgi/environ_cache.hpp"

#include <cstring>

namespace wsgi::wsgi {
namespace {

using python::Ref;

Ref interned(std::string_view name) {
    PyObject* key = PyUnicode_FromStringAndSize(name.data(), static_cast<Py_ssize_t>(name.size()));
    if (key != nullptr) {
        PyUnicode_InternInPlace(&key);
    }
    return Ref::steal(key);
}

// True when `value` (a str made by PyUnicode_DecodeLatin1, so one byte per character) holds
// exactly the bytes of `text`.
bool same_text(PyObject* value, std::string_view text) {
    if (PyUnicode_GET_LENGTH(value) != static_cast<Py_ssize_t>(text.size()) ||
        PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND) {
        return false;
    }
    return text.empty() || std::memcmp(PyUnicode_1BYTE_DATA(value), text.data(), text.size()) == 0;
}

Ref decode(std::string_view text) {
    return Ref::steal(
        PyUnicode_DecodeLatin1(text.data(), static_cast<Py_ssize_t>(text.size()), nullptr));
}

}  // namespace

EnvironCache::Entry* EnvironCache::find_or_add(std::string_view name) {
    if (auto found = names_.find(name); found != names_.end()) {
        return &entries_[found->second];
    }
    if (names_.size() >= kMaxNames) {
        return nullptr;
    }
    Ref key = interned(name);
    if (!key) {
        return nullptr;  // not cached; the caller's own attempt reports the error
    }
    names_.emplace(std::string(name), entries_.size());
    entries_.push_back(Entry{std::move(key), Ref()});
    return &entries_.back();
}

PyObject* EnvironCache::key(std::size_t slot, std::string_view name) {
    Entry& entry = entries_[slot];
    if (!entry.key) {
        entry.key = interned(name);
        fixed_used_ += entry.key ? 1 : 0;
    }
    return entry.key.get();
}

bool EnvironCache::set(PyObject* environ, std::size_t slot, std::string_view name,
                       std::string_view value) {
    Entry* entry = nullptr;
    if (slot != kNoSlot) {
        if (key(slot, name) == nullptr) {
            return false;
        }
        entry = &entries_[slot];
    } else {
        entry = find_or_add(name);
        PyErr_Clear();
    }
    if (entry == nullptr) {
        Ref key = Ref::steal(
            PyUnicode_FromStringAndSize(name.data(), static_cast<Py_ssize_t>(name.size())));
        Ref text = decode(value);
        return key && text && PyDict_SetItem(environ, key.get(), text.get()) == 0;
    }
    Ref text;
    if (entry->value && same_text(entry->value.get(), value)) {
        text = entry->value.copy();
    } else {
        text = decode(value);
        if (!text) {
            return false;
        }
        if (value.size() <= kMaxValueLength) {
            entry->value = text.copy();
        }
    }
    return PyDict_SetItem(environ, entry->key.get(), text.get()) == 0;
}

}  // namespace wsgi::wsgi
