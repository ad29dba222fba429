// Facts from the machine and the account checks. The only part of mod_wsgi-express that asks
// the system about users, groups and its own location.

#include "express/facts.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

namespace express {
namespace {

namespace fs = std::filesystem;

bool exists(const std::string& path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0;
}

// access() as `uid`/`gid` in a child process, which is the only way to ask the kernel (ACLs,
// supplementary groups and all) what another account may do.
bool can_access_as(uid_t uid, gid_t gid, const char* user, const std::string& path, int mode) {
    pid_t pid = fork();
    if (pid < 0) {
        return true;  // cannot tell: let Apache report it
    }
    if (pid == 0) {
        bool ok = setgid(gid) == 0 && initgroups(user, gid) == 0 && setuid(uid) == 0 &&
                  access(path.c_str(), mode) == 0;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::string find_module() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        fs::path beside = exe.parent_path() / "mod_wsgi.so";
        if (exists(beside.string())) {
            return beside.string();
        }
    }
    return MOD_WSGI_EXPRESS_INSTALLED_MODULE;
}

std::string find_python_home() {
    const char* venv = std::getenv("VIRTUAL_ENV");
    if (venv && *venv && exists(std::string(venv) + "/pyvenv.cfg")) {
        return fs::path(venv).lexically_normal().string();
    }
    return "";
}

Facts gather_facts(const std::string& modules_directory) {
    Facts facts;
    facts.uid = geteuid();
    std::error_code ec;
    facts.cwd = fs::current_path(ec).string();
    if (ec) {
        throw UsageError("cannot read the current directory: " + ec.message());
    }
    const char* tmpdir = std::getenv("TMPDIR");
    facts.tmpdir = tmpdir && *tmpdir ? fs::path(tmpdir).lexically_normal().string() : "/tmp";
    if (facts.tmpdir.size() > 1 && facts.tmpdir.back() == '/') {
        facts.tmpdir.pop_back();
    }
    facts.module_path = find_module();
    if (!exists(facts.module_path)) {
        throw UsageError("mod_wsgi.so not found at " + facts.module_path +
                         ": build it (cmake --build build) or install it");
    }
    facts.python_home = find_python_home();
    for (const char* mpm : {"event", "worker", "prefork"}) {
        if (exists(modules_directory + "/mod_mpm_" + mpm + ".so")) {
            facts.available_mpms.emplace_back(mpm);
        }
    }
    std::ifstream start("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    if (!(start >> facts.unprivileged_port_start)) {
        facts.unprivileged_port_start = 1024;
    }
    return facts;
}

void check_run_account(Plan& plan) {
    if (plan.run_user.empty()) {
        return;
    }
    passwd* pw = getpwnam(plan.run_user.c_str());
    if (!pw) {
        throw UsageError("--user: no such user: " + plan.run_user);
    }
    if (pw->pw_uid == 0) {
        throw UsageError("--user: the application may not run as root");
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    std::string user = pw->pw_name;
    if (plan.run_group.empty()) {
        group* gr = getgrgid(gid);
        if (!gr) {
            throw UsageError("the primary group (gid " + std::to_string(gid) + ") of " + user +
                             " has no name: give --group");
        }
        plan.run_group = gr->gr_name;
    } else {
        group* gr = getgrnam(plan.run_group.c_str());
        if (!gr) {
            throw UsageError("--group: no such group: " + plan.run_group);
        }
        gid = gr->gr_gid;
    }
    if (!plan.module_target && !plan.static_only &&
        !can_access_as(uid, gid, user.c_str(), plan.script, R_OK)) {
        throw UsageError(user + " cannot read the WSGI script " + plan.script +
                         ": make it (and its directories) readable, or choose --user");
    }
    // The access, authentication and --add-handler scripts are read as this account too.
    std::vector<std::string> scripts = {plan.host_access_script, plan.auth_user_script,
                                        plan.auth_group_script};
    for (const auto& [extension, script] : plan.handler_scripts) {
        scripts.push_back(script);
    }
    for (const std::string& script : scripts) {
        if (!script.empty() && !can_access_as(uid, gid, user.c_str(), script, R_OK)) {
            throw UsageError(user + " cannot read the script " + script +
                             ": make it (and its directories) readable, or choose --user");
        }
    }
    if (!plan.options.embedded_mode && !plan.static_only &&
        !can_access_as(uid, gid, user.c_str(), plan.working_directory, X_OK)) {
        throw UsageError(user + " cannot enter the working directory " +
                         plan.working_directory + ": give --working-directory, or choose --user");
    }
}

}  // namespace express
