#include "wsgi/file_wrapper.hpp"

#include "python/ref.hpp"

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
    Py_TYPE(obj)->tp_free(obj);
}

int wrapper_traverse(PyObject* obj, visitproc visit, void* arg) noexcept {
    Py_VISIT(reinterpret_cast<FileWrapperObject*>(obj)->filelike);
    return 0;
}

int wrapper_clear(PyObject* obj) noexcept {
    Py_CLEAR(reinterpret_cast<FileWrapperObject*>(obj)->filelike);
    return 0;
}

PyMethodDef kWrapperMethods[] = {
    {"close", wrapper_close, METH_NOARGS, "Close the wrapped file-like."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject make_wrapper_type() {
    PyTypeObject type = {PyVarObject_HEAD_INIT(nullptr, 0)};
    type.tp_name = "mod_wsgi.FileWrapper";
    type.tp_basicsize = sizeof(FileWrapperObject);
    type.tp_dealloc = wrapper_dealloc;
    type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    type.tp_doc = "wsgi.file_wrapper(filelike, blksize=8192)";
    type.tp_traverse = wrapper_traverse;
    type.tp_clear = wrapper_clear;
    type.tp_iter = PyObject_SelfIter;
    type.tp_iternext = wrapper_iternext;
    type.tp_methods = kWrapperMethods;
    type.tp_init = wrapper_init;
    type.tp_alloc = PyType_GenericAlloc;
    type.tp_new = PyType_GenericNew;
    return type;
}

PyTypeObject g_wrapper_type = make_wrapper_type();

}  // namespace

bool ready_file_wrapper_type() { return PyType_Ready(&g_wrapper_type) == 0; }

PyObject* file_wrapper_type() { return reinterpret_cast<PyObject*>(&g_wrapper_type); }

PyObject* file_wrapper_filelike(PyObject* object, Py_ssize_t* block_size) {
    if (Py_TYPE(object) != &g_wrapper_type) {
        return nullptr;
    }
    auto* self = reinterpret_cast<FileWrapperObject*>(object);
    *block_size = self->block_size;
    return self->filelike;
}

}  // namespace wsgi::wsgi
