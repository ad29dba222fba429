#pragma once
// Part of Apache's directory walk (ap_directory_walk, httpd server/request.c), done ahead of
// it for a WSGIScriptAlias target.

#include <httpd.h>

#include <string_view>

namespace wsgi::apache {

// For a request whose r->filename is `script` (an alias target as configured) followed by path
// info ('/' and the rest of the URL, as mod_alias and mod_wsgi map it): where `script` is an
// existing regular file, sets r->filename to the script and r->path_info to the path info,
// both canonicalised as the directory walk does (apr_filepath_merge), and r->finfo to the
// script's stat(), which the walk then takes as found. Returns whether it did; otherwise the
// request is left as it was.
//
// The walk, given a path that does not exist, finds where the file ends by lstat()ing the
// components one by one (a failed stat() of the whole path, then one lstat() per component);
// given the script and its stat() from here, it makes none with FollowSymLinks and
// AllowOverride None (the defaults). The request comes out as the walk would have left it:
// the walk appends r->path_info to what it has not consumed, and still lstat()s each component
// where the Options do not allow every symbolic link. Left to the walk: subrequests and
// internal redirects (the walk would reuse the parent's per-directory result for a file in the
// same directory), and a script that a path or wildcard <Directory> section names (the walk
// applies those to a file it is given by name but not to one it finds at the end of a longer
// path). Called from the translate_name hook; r->pool allocations only.
bool split_path_info(request_rec* r, std::string_view script);

}  // namespace wsgi::apache
