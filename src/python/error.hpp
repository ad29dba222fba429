#pragma once
// Turning the pending Python exception into text for the error log.

#include <Python.h>

#include <string>
#include <vector>

namespace wsgi::python {

// Fetches and clears the current exception and formats it as traceback.format_exception
// would, one log line per element (no trailing newlines). Returns an empty vector when no
// exception is set. GIL held; never leaves an exception set.
std::vector<std::string> take_exception_lines();

// The calling thread's Python stack as traceback.format_stack() gives it, one log line per
// non-empty line (best effort: empty when it cannot be formatted). GIL held; never leaves an
// exception set.
std::vector<std::string> current_stack_lines();

// Sets a Python exception of `type` with a UTF-8 message. GIL held.
void set_error(PyObject* type, const std::string& message);

}  // namespace wsgi::python
