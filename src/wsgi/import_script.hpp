#pragma once
// WSGIImportScript (mod_wsgi docs): scripts loaded into their application groups when a
// process starts, before it accepts requests, with the same loader (and module name) as
// requests use, so that a request for the same script in the same group finds it loaded.

#include <apr_pools.h>
#include <httpd.h>

#include <string>

namespace wsgi::wsgi {

// Loads the WSGIImportScript scripts of every server whose process group is
// `process_group` ("" for the Apache child processes), in configuration order, creating
// their interpreters. Python must be initialised and its interpreters set up; call without
// the GIL. A failure (missing file, exception while importing) is logged with its traceback
// and the next script is tried; nothing here stops the process. `pool` is for temporary
// allocations.
void preload_import_scripts(server_rec* main, const std::string& process_group,
                            apr_pool_t* pool) noexcept;

}  // namespace wsgi::wsgi
