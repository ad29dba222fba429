#pragma once

// What mod_wsgi-express learns from the machine: where our module is, which MPMs Apache has,
// who runs it, and the checks that need the accounts (run as root only).

#include <string>

#include "express/options.hpp"

namespace express {

// Our mod_wsgi.so: the one next to this executable (a build tree), else the installed one.
std::string find_module();

// Python home for a virtual environment mod_wsgi-express runs in ($VIRTUAL_ENV), or empty.
std::string find_python_home();

// The facts resolve() needs; `modules_directory` is where the MPM modules are looked for.
Facts gather_facts(const std::string& modules_directory);

// Started as root: looks up the run user (and its primary group when no --group was given) and
// checks that it can read the script and enter the working directory. Throws UsageError.
void check_run_account(Plan& plan);

}  // namespace express
