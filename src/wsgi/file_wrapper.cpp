#include "wsgi/file_wrapper.hpp"

#include <structmember.h>

#include <cstddef>

#include "python/ref.hpp"
#include "wsgi/interpreter_setup.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

constexpr Py_ssize_t kDefaultBlockSize = 8192;

struct FileWrapperObject {
    PyObject_HEAD
    PyObject* filelike;
    Py_ssize_t block_size;
};

int wrapper_init(PyObject* obj, PyObject* args, PyObject* kwargs) noexcept {
    auto* self = reinterpret_cast<FileWrapperObject*>(obj);
    static const char* kKeywords[] = {"filelike", "blksize", nullptr};
    PyObject* filelike = nullptr;
    Py_ssize_t block_size = kDefaultBlockSize;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|n:FileWrapper",
                                     const_cast<char**>(kKeywords), &filelike, &block_size)) {
        return -1;
    }
    if (block_size <= 0) {
        PyErr_SetString(PyExc_ValueError, "block size must be positive");
        return -1;
    }
    Py_XSETREF(self->filelike, Py_NewRef(filelike));
    self->block_size = block_size;
    return 0;
}

PyObject* wrapper_iternext(PyObject* obj) noexcept {
    auto* self = reinterpret_cast<FileWrapperObject*>(obj);
    if (self->filelike == nullptr) {
        PyErr_SetString(PyExc_ValueError, "FileWrapper not initialised");
        return nullptr;
    }
    Ref block = Ref::steal(PyObject_CallMethod(self->filelike, "read", "n", self->block_size));
    if (!block) {
        return nullptr;
    }
    if (PyObject_Length(block.get()) <= 0) {
        PyErr_Clear();
        return nullptr;  // end of file: StopIteration
    }
    return block.release();
}

PyObject* wrapper_close(PyObject* obj, PyObject*) noexcept {
    auto* self = reinterpret_cast<FileWrapperObject*>(obj);
    if (self->filelike != nullptr && PyObject_HasAttrString(self->filelike, "close")) {
        Ref result = Ref::steal(PyObject_CallMethod(self->filelike, "close", nullptr));
        if (!result) {
            return nullptr;
        }
    }
    Py_RETURN_NONE;
}

void wrapper_dealloc(PyObject* obj) noexcept {
    auto* self = reinterpret_cast<FileWrapperObject*>(obj);
    PyObject_GC_UnTrack(obj);
    Py_CLEAR(self->filelike);
    PyTypeObject* type = Py_TYPE(obj);
    type->tp_free(obj);
    Py_DECREF(type);
}

int wrapper_traverse(PyObject* obj, visitproc visit, void* arg) noexcept {
    Py_VISIT(reinterpret_cast<FileWrapperObject*>(obj)->filelike);
    Py_VISIT(Py_TYPE(obj));
    return 0;
}

int wrapper_clear(PyObject* obj) noexcept {
    Py_CLEAR(reinterpret_cast<FileWrapperObject*>(obj)->filelike);
    return 0;
}

// As wsgiref's FileWrapper and mod_wsgi's have them: the wrapped object and the block size.
PyMemberDef kWrapperMembers[] = {
    {"filelike", T_OBJECT, offsetof(FileWrapperObject, filelike), READONLY, nullptr},
    {"blksize", T_PYSSIZET, offsetof(FileWrapperObject, block_size), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyMethodDef kWrapperMethods[] = {
    {"close", wrapper_close, METH_NOARGS, "Close the wrapped file-like."},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot kWrapperSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(wrapper_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(wrapper_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(wrapper_clear)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(wrapper_iternext)},
    {Py_tp_methods, kWrapperMethods},
    {Py_tp_members, kWrapperMembers},
    {Py_tp_init, reinterpret_cast<void*>(wrapper_init)},
    {Py_tp_new, reinterpret_cast<void*>(PyType_GenericNew)},
    {Py_tp_doc, const_cast<char*>("wsgi.file_wrapper(filelike, blksize=8192)")},
    {0, nullptr},
};

PyType_Spec kWrapperSpec = {"mod_wsgi.FileWrapper", sizeof(FileWrapperObject), 0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, kWrapperSlots};

}  // namespace

PyObject* create_file_wrapper_type() { return PyType_FromSpec(&kWrapperSpec); }

PyObject* file_wrapper_type() { return wsgi_state().file_wrapper_type.get(); }

PyObject* file_wrapper_filelike(PyObject* object, Py_ssize_t* block_size) {
    if (reinterpret_cast<PyObject*>(Py_TYPE(object)) != file_wrapper_type()) {
        return nullptr;
    }
    auto* self = reinterpret_cast<FileWrapperObject*>(object);
    *block_size = self->block_size;
    return self->filelike;
}

}  // namespace wsgi::wsgi
