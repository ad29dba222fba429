#include "apache/directory_walk.hpp"

#include <apr_file_info.h>
#include <apr_fnmatch.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_core.h>

#include <cstring>

#include "apache/log.hpp"

namespace wsgi::apache {
namespace {

// Whether a path or wildcard <Directory> section of the request's server matches `dir_form`
// (a canonical file path with '/' appended) at its own level, as ap_directory_walk matches
// sections level by level. Regex sections (<Directory ~>, <DirectoryMatch>) are matched
// against the final r->filename, the same however the path info was split off.
bool section_names(request_rec* r, const char* dir_form) {
    auto* server =
        static_cast<core_server_config*>(ap_get_core_module_config(r->server->module_config));
    const int components = ap_count_dirs(dir_form);
    auto** sections = reinterpret_cast<ap_conf_vector_t**>(server->sec_dir->elts);
    for (int i = 0; i < server->sec_dir->nelts; ++i) {
        const auto* section =
            static_cast<const core_dir_config*>(ap_get_core_module_config(sections[i]));
        if (section->r != nullptr || section->d == nullptr ||
            static_cast<int>(section->d_components) != components) {
            continue;
        }
        if (section->d_is_fnmatch
                ? apr_fnmatch(section->d, dir_form, APR_FNM_PATHNAME) == APR_SUCCESS
                : std::strcmp(section->d, dir_form) == 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

bool split_path_info(request_rec* r, std::string_view script) {
    if (r->main != nullptr || r->prev != nullptr || script.empty() || script.back() == '/') {
        return false;
    }
    char* canonical_script = nullptr;
    char* canonical_filename = nullptr;
    if (apr_filepath_merge(&canonical_script, nullptr,
                           apr_pstrmemdup(r->pool, script.data(), script.size()),
                           APR_FILEPATH_NOTRELATIVE, r->pool) != APR_SUCCESS ||
        apr_filepath_merge(&canonical_filename, nullptr, r->filename, APR_FILEPATH_NOTRELATIVE,
                           r->pool) != APR_SUCCESS) {
        return false;
    }
    const std::size_t length = std::strlen(canonical_script);
    if (length == 0 || canonical_script[length - 1] == '/' ||
        std::strncmp(canonical_filename, canonical_script, length) != 0 ||
        canonical_filename[length] != '/') {
        return false;
    }
    if (section_names(r, apr_pstrcat(r->pool, canonical_script, "/", nullptr))) {
        return false;
    }
    apr_finfo_t finfo;
    if (apr_stat(&finfo, canonical_script, APR_FINFO_MIN, r->pool) != APR_SUCCESS ||
        finfo.filetype != APR_REG) {
        return false;
    }
    r->filename = canonical_script;
    r->path_info = canonical_filename + length;
    r->finfo = finfo;
    ap_log_rerror(APLOG_MARK, APLOG_TRACE3, 0, r,
                  "path info split off at the script: filename %s, path info %s", r->filename,
                  r->path_info);
    return true;
}

}  // namespace wsgi::apache
