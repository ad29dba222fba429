#pragma once
// wsgi.file_wrapper (PEP 3333 "Optional Platform-Specific File Handling"; mod_wsgi docs
// "File Wrapper Extension"). Iterating the wrapper reads the file-like in blocks; when the
// application returns a wrapper of a real file, the adapter sends it as an Apache file bucket.

#include <Python.h>

namespace wsgi::wsgi {

// Creates the mod_wsgi.FileWrapper heap type for the current interpreter (new reference), or
// nullptr with an exception set. GIL held.
PyObject* create_file_wrapper_type();

// The current interpreter's type object (borrowed), for environ["wsgi.file_wrapper"].
PyObject* file_wrapper_type();

// If `object` is a FileWrapper, its file-like (borrowed) and block size; else nullptr.
PyObject* file_wrapper_filelike(PyObject* object, Py_ssize_t* block_size);

}  // namespace wsgi::wsgi
