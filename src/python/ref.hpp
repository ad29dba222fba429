#pragma once
// Owning reference to a Python object (pybind11's reinterpret_steal/borrow vocabulary).
// Built only by steal() or borrow(); move-only. The destructor decrements the reference, so
// it must run with the GIL held by a thread attached to the object's interpreter: never keep
// a Ref in a static, an APR-pool-owned object or an object destroyed on another thread.

#include <Python.h>

#include <utility>

namespace wsgi::python {

class Ref {
public:
    Ref() = default;
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    Ref(Ref&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
    Ref& operator=(Ref&& other) noexcept {
        if (this != &other) {
            Py_XDECREF(ptr_);
            ptr_ = std::exchange(other.ptr_, nullptr);
        }
        return *this;
    }
    ~Ref() { Py_XDECREF(ptr_); }

    // Takes over a new reference (may be nullptr, e.g. a failed call with an exception set).
    static Ref steal(PyObject* p) { return Ref(p); }
    // Adds a reference to a borrowed pointer.
    static Ref borrow(PyObject* p) {
        Py_XINCREF(p);
        return Ref(p);
    }

    PyObject* get() const { return ptr_; }
    // Gives up ownership: the caller now owns the new reference.
    PyObject* release() { return std::exchange(ptr_, nullptr); }
    explicit operator bool() const { return ptr_ != nullptr; }
    Ref copy() const { return borrow(ptr_); }
    void reset() { Py_CLEAR(ptr_); }

private:
    explicit Ref(PyObject* p) : ptr_(p) {}
    PyObject* ptr_ = nullptr;
};

}  // namespace wsgi::python
