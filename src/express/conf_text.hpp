#pragma once

// Text for the generated files: arguments quoted for Apache's configuration parser, mod_rewrite
// and the shell. Pure functions of their arguments.

#include <string>
#include <vector>

namespace express {

// `text` as a double-quoted Apache configuration argument, as is (for values checked to hold
// no double quote or line break, and for mod_rewrite lines, whose parser keeps backslashes).
std::string quote(const std::string& text);

// `text` as a double-quoted argument that ap_getword_conf reads back unchanged (it unescapes a
// backslash before a backslash or a double quote).
std::string quote_escaped(const std::string& text);

// `text` as a literal in a PCRE pattern.
std::string regex_literal(const std::string& text);

// `text` as a literal in a RewriteCond test string or a RewriteRule substitution, where '$'
// and '%' start back-references and variables (mod_rewrite's do_expand).
std::string rewrite_literal(const std::string& text);

// `text` as one single-quoted shell word.
std::string shell_quote(const std::string& text);

// `text` as a Python string literal.
std::string python_string(const std::string& text);

// The words separated by single spaces.
std::string join(const std::vector<std::string>& words);

// The argument of Listen: "8000", "127.0.0.1:8000" or "[::1]:8000".
std::string listen_address(const std::string& host, int port);

}  // namespace express
