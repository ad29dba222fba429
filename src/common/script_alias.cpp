#include "common/script_alias.hpp"

namespace wsgi::common {

std::size_t alias_match_length(std::string_view uri, std::string_view alias) {
    if (alias.empty()) {
        return 0;
    }
    std::size_t a = 0;
    std::size_t u = 0;
    while (a < alias.size()) {
        if (alias[a] == '/') {
            if (u >= uri.size() || uri[u] != '/') {
                return 0;
            }
            while (a < alias.size() && alias[a] == '/') {
                ++a;
            }
            while (u < uri.size() && uri[u] == '/') {
                ++u;
            }
        } else {
            if (u >= uri.size() || uri[u] != alias[a]) {
                return 0;
            }
            ++a;
            ++u;
        }
    }
    // The last alias component must have matched a whole URI component.
    if (alias.back() != '/' && u < uri.size() && uri[u] != '/') {
        return 0;
    }
    return u;
}

std::string_view alias_rest(std::string_view uri, std::string_view alias, std::size_t matched) {
    return alias == "/" ? uri : uri.substr(matched);
}

std::string alias_filename(std::string_view uri, std::string_view alias, std::size_t matched,
                           std::string_view target) {
    std::string filename(target);
    filename.append(alias_rest(uri, alias, matched));
    return filename;
}

std::string collapse_slashes(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    for (char c : path) {
        if (c == '/' && !out.empty() && out.back() == '/') {
            continue;
        }
        out.push_back(c);
    }
    return out;
}

}  // namespace wsgi::common
