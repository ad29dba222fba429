// Server root creation. Files are written to a temporary name and renamed, so an Apache that
// is running from this server root never reads half a file.

#include "express/server_root.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "express/server_files.hpp"

namespace express {
namespace {

namespace fs = std::filesystem;

void write_file(const std::string& path, const std::string& text, mode_t mode) {
    std::string temp = path + ".tmp";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out.flush()) {
            throw UsageError("cannot write " + temp + ": " + std::strerror(errno));
        }
    }
    if (chmod(temp.c_str(), mode) != 0 || rename(temp.c_str(), path.c_str()) != 0) {
        throw UsageError("cannot write " + path + ": " + std::strerror(errno));
    }
}

void make_directory(const std::string& path) {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) {
        throw UsageError("cannot create " + path + ": " + ec.message());
    }
}

// A server root in a shared directory like /tmp must not be someone else's (or a symlink to
// somewhere else): we would write a configuration that Apache runs as us.
void check_server_root(const std::string& root) {
    struct stat st{};
    if (lstat(root.c_str(), &st) != 0) {
        throw UsageError("cannot use server root " + root + ": " + std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        throw UsageError("server root " + root + " is not a directory owned by you: remove it "
                         "or give another --server-root");
    }
}

}  // namespace

int running_server_pid(const Plan& plan) {
    std::ifstream in(plan.pid_file);
    int pid = 0;
    if (in >> pid && pid > 0 && kill(pid, 0) == 0) {
        return pid;
    }
    return 0;
}

void write_server_root(const Plan& plan) {
    bool created = !fs::exists(plan.server_root);
    make_directory(plan.server_root);
    check_server_root(plan.server_root);
    if (created) {
        // Readable by the account the Apache children run as (handler.wsgi, the sockets).
        chmod(plan.server_root.c_str(), 0755);
    }
    make_directory(plan.server_root + "/htdocs");
    if (plan.log_directory != plan.server_root) {
        make_directory(plan.log_directory);
    }
    write_file(plan.config_file, render_httpd_conf(plan), 0644);
    write_file(plan.apachectl, render_apachectl(plan), 0755);
    if (!fs::exists(plan.envvars)) {
        write_file(plan.envvars, render_envvars(), 0644);
    }
    if (plan.module_target) {
        write_file(plan.script, render_handler_script(plan), 0644);
    }
    if (!plan.resource_script.empty()) {
        write_file(plan.resource_script, render_resource_script(plan), 0644);
    }
    if (!plan.reload_monitor.empty()) {
        write_file(plan.reload_monitor, reload_monitor_source(), 0644);
    }
}

}  // namespace express
