#pragma once

// The text of the files mod_wsgi-express writes into a server root: httpd.conf, apachectl,
// envvars, handler.wsgi (module targets) and reload_monitor.py (--reload-on-changes).
// Pure: they depend on the Plan alone, so unit tests can read what a command line produces.

#include <string>

#include "express/conf_text.hpp"  // quote()
#include "express/options.hpp"

namespace express {

// The Apache configuration, commented section by section.
std::string render_httpd_conf(const Plan& plan);

// A bash script: apachectl start|stop|restart|graceful|graceful-stop|configtest [args].
std::string render_apachectl(const Plan& plan);

// The envvars template apachectl sources (written only when missing: it is the user's file).
std::string render_envvars();

// The WSGI script that imports a module target's callable as `application`.
std::string render_handler_script(const Plan& plan);

// resource.wsgi: the WSGIHandlerScript that passes each --add-handler extension's requests to
// its script.
std::string render_resource_script(const Plan& plan);

// The Python helper loaded by WSGIImportScript for --reload-on-changes.
std::string reload_monitor_source();

}  // namespace express
