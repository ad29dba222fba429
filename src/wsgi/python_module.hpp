#pragma once
// The `mod_wsgi` and `apache` Python modules an application can import (mod_wsgi docs,
// "mod_wsgi Python module"): version, process_group, application_group, FileWrapper.

namespace wsgi::wsgi {

// Creates both modules in the current interpreter's sys.modules. GIL held; the adapter types
// must be ready. Returns false with a Python exception set.
bool install_python_modules(const char* process_group, const char* application_group);

}  // namespace wsgi::wsgi
