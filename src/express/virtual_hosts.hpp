#pragma once

// The virtual hosts of the generated configuration: with --server-name, name-based ones as
// mod_wsgi-express makes them (a first one refusing other host names, the named one, the
// parent domain of a www. name); --proxy-virtual-host ones; the HTTPS port's.

#include <string>

#include "express/options.hpp"

namespace express {

// "example.com" for a --server-name "www.example.com", else empty.
std::string parent_domain(const Plan& plan);

// The virtual hosts of the HTTP port (empty without --server-name or --proxy-virtual-host).
std::string host_names_section(const Plan& plan);

// Listen, the session cache and the virtual hosts of --https-port (empty without it).
std::string https_section(const Plan& plan);

}  // namespace express
