#pragma once
// The settings that apply to one request, resolved from the matched WSGIScriptAlias options,
// the per-directory configuration and mod_wsgi's defaults.

#include <string>

namespace wsgi::wsgi {

struct RequestSettings {
    std::string script_filename;    // r->filename of the script
    std::string script_name;        // SCRIPT_NAME given to the application
    std::string path_info;          // PATH_INFO given to the application
    std::string application_group;  // expanded; "" is the main interpreter
    std::string process_group;      // expanded; "" is embedded mode
    std::string callable_object;    // name of the WSGI application in the script
    // WSGIHandlerScript: the handler script (then also script_filename) while SCRIPT_FILENAME
    // stays the requested file; "" otherwise. Apache-child side only, not sent to daemons.
    std::string handler_script;
    bool pass_authorization = false;
    bool chunked_request = false;
    bool enable_sendfile = false;
    bool error_override = false;
    bool script_reloading = true;
    bool map_head_to_get = false;  // present this HEAD request as GET
    // WSGIIgnoreActivity: in daemon mode, the request does not put off the process's
    // inactivity-timeout (health checks).
    bool ignore_activity = false;
};

}  // namespace wsgi::wsgi
