// mod_wsgi-express: runs a WSGI application under Apache with this project's mod_wsgi.so,
// from one command. The commands and option names are mod_wsgi-express's (mod_wsgi 4+):
//
//   mod_wsgi-express start-server TARGET [options]   write a server root, run Apache in the
//                                                    foreground
//   mod_wsgi-express setup-server TARGET [options]   write the server root and its apachectl
//   mod_wsgi-express module-config                   LoadModule/WSGIPythonHome for an Apache
//   mod_wsgi-express install-module                  copy mod_wsgi.so into Apache's modules
//
// Every check runs before anything is written or started: a bad option or a missing target
// ends with a message and exit status 2.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "express/facts.hpp"
#include "express/launch.hpp"
#include "express/options.hpp"
#include "express/server_files.hpp"
#include "express/server_root.hpp"

namespace {

namespace fs = std::filesystem;
using express::Plan;
using express::UsageError;

constexpr int kUsageExit = 2;

Plan prepare(express::ServerOptions options) {
    if (options.modules_directory.empty()) {
        options.modules_directory = HTTPD_MODULES_DIRECTORY;
    }
    Plan plan = express::resolve(options, express::gather_facts(options.modules_directory));
    express::check_run_account(plan);
    if (int pid = express::running_server_pid(plan)) {
        throw UsageError("a server is already running from " + plan.server_root + " (pid " +
                         std::to_string(pid) + "): stop it with " + plan.apachectl + " stop");
    }
    for (const std::string& warning : plan.warnings) {
        std::cerr << "mod_wsgi-express: warning: " << warning << "\n";
    }
    express::write_server_root(plan);
    return plan;
}

void print_summary(const Plan& plan) {
    const express::ServerOptions& o = plan.options;
    int processes = o.processes.value_or(1);
    std::cout << "Server URL        : " << express::server_url(plan) << "\n";
    if (o.https_port) {
        std::cout << "Server URL (HTTPS): https://" << (o.host.empty() ? "localhost" : o.host)
                  << ":" << *o.https_port << "/\n";
    }
    std::cout << "Server root       : " << plan.server_root << "\n"
              << "Configuration     : " << plan.config_file << "\n"
              << "Error log         : " << plan.error_log << " (LogLevel " << o.log_level
              << (plan.rotate_logs ? ", rotated" : "") << ")\n";
    if (o.access_log) {
        std::cout << "Access log        : " << plan.access_log
                  << (plan.rotate_logs ? " (rotated)" : "") << "\n";
    }
    if (plan.static_only) {
        std::cout << "Mode              : static files only\n";
    } else if (o.embedded_mode) {
        std::cout << "Mode              : embedded mode\n";
    } else {
        std::cout << "Mode              : daemon mode, " << processes << " process"
                  << (processes == 1 ? "" : "es") << " x " << o.threads << " threads"
                  << (o.reload_on_changes ? ", reloading on changes" : "") << "\n";
    }
    std::string application = plan.static_only     ? "(static) " + plan.document_root
                              : plan.module_target ? plan.module_name + ":" + plan.module_callable
                                                   : plan.script;
    std::cout << "Application       : " << application << "\n" << std::flush;
}

int start_server(const express::ServerOptions& options) {
    Plan plan = prepare(options);
    if (options.setup_only) {
        std::cout << "Server root written to " << plan.server_root << "; run "
                  << plan.apachectl << " start\n";
        return 0;
    }
    print_summary(plan);
    int status = express::run_in_foreground(plan);
    if (status != 0) {
        std::cerr << "mod_wsgi-express: Apache exited with status " << status << "; see "
                  << plan.error_log << "\n";
    }
    return status;
}

int setup_server(const express::ServerOptions& options) {
    Plan plan = prepare(options);
    std::cout << "Server root written to " << plan.server_root << ".\n"
              << "Control the server with " << plan.apachectl
              << " start|stop|restart|graceful|configtest\n";
    return 0;
}

int module_config() {
    std::string module = express::find_module();
    std::string home = express::find_python_home();
    std::cout << "LoadModule wsgi_module " << express::quote(module) << "\n"
              << "WSGIPythonHome " << express::quote(home.empty() ? MOD_WSGI_PYTHON_PREFIX : home)
              << "\n";
    return 0;
}

int install_module(const std::string& modules_directory) {
    fs::path source = express::find_module();
    fs::path target = fs::path(modules_directory) / "mod_wsgi.so";
    std::error_code ec;
    if (!fs::exists(source)) {
        throw UsageError("mod_wsgi.so not found at " + source.string());
    }
    if (!fs::is_directory(modules_directory)) {
        throw UsageError("--modules-directory: no such directory: " + modules_directory);
    }
    if (!fs::equivalent(source, target, ec)) {
        // Copy then rename: a running Apache that mapped the old file keeps it intact.
        fs::path temp = target.string() + ".new";
        fs::copy_file(source, temp, fs::copy_options::overwrite_existing, ec);
        if (!ec) {
            fs::permissions(temp, fs::perms(0644), ec);
        }
        if (!ec) {
            fs::rename(temp, target, ec);
        }
        if (ec) {
            throw UsageError("cannot install " + target.string() + ": " + ec.message());
        }
    }
    std::cout << "LoadModule wsgi_module " << express::quote(target.string()) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Runs a WSGI application under Apache httpd with mod_wsgi.",
                 "mod_wsgi-express"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string(MOD_WSGI_VERSION_STRING));

    express::ServerOptions start_options;
    CLI::App* start = app.add_subcommand(
        "start-server", "Write a server root and run Apache with the application in the "
                        "foreground (Ctrl-C stops it)");
    express::add_server_options(*start, start_options);

    express::ServerOptions setup_options;
    CLI::App* setup = app.add_subcommand(
        "setup-server", "Write a server root with an apachectl script, without starting it");
    express::add_server_options(*setup, setup_options);

    CLI::App* config = app.add_subcommand(
        "module-config", "Print the configuration lines that load this mod_wsgi into Apache");

    std::string modules_directory = HTTPD_MODULES_DIRECTORY;
    CLI::App* install = app.add_subcommand(
        "install-module", "Copy mod_wsgi.so into Apache's modules directory");
    install->add_option("--modules-directory", modules_directory,
                        "Apache's modules directory (default " HTTPD_MODULES_DIRECTORY ")");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : kUsageExit;
    }
    try {
        if (*start) {
            return start_server(start_options);
        }
        if (*setup) {
            return setup_server(setup_options);
        }
        if (*config) {
            return module_config();
        }
        if (*install) {
            return install_module(modules_directory);
        }
    } catch (const UsageError& e) {
        std::cerr << "mod_wsgi-express: error: " << e.what() << "\n";
        return kUsageExit;
    } catch (const std::exception& e) {
        std::cerr << "mod_wsgi-express: " << e.what() << "\n";
        return 1;
    }
    return kUsageExit;
}
