#pragma once
// URL mapping rules of WSGIScriptAlias and of SCRIPT_NAME/PATH_INFO (mod_wsgi docs,
// "WSGIScriptAlias"; the prefix rule is mod_alias's). Pure: no httpd, no Python.

#include <cstddef>
#include <string>
#include <string_view>

namespace wsgi::common {

// Matches `uri` against an alias URL prefix. Any run of '/' in the alias matches any
// non-empty run of '/' in the URI; other characters compare literally; the match must end at
// a path-segment boundary unless the alias itself ends in '/'. Returns the number of URI
// characters matched (may exceed the alias length when the URI doubles slashes), or 0 for no
// match.
std::size_t alias_match_length(std::string_view uri, std::string_view alias);

// The part of `uri` that follows the target of a matched alias: the unmatched rest of the
// URI, or all of it for a mount at "/", so that the mount point is the empty SCRIPT_NAME.
std::string_view alias_rest(std::string_view uri, std::string_view alias, std::size_t matched);

// Builds r->filename for a matched alias: the target plus alias_rest().
std::string alias_filename(std::string_view uri, std::string_view alias, std::size_t matched,
                           std::string_view target);

// Collapses every run of '/' into one, as mod_wsgi does for SCRIPT_NAME and PATH_INFO.
std::string collapse_slashes(std::string_view path);

}  // namespace wsgi::common
