// start-server's supervision of Apache.
//
// Apache runs in a process group of its own, so the terminal's Ctrl-C reaches only us and we
// decide how Apache stops: a graceful stop (SIGWINCH), bounded by GracefulShutdownTimeout.
// A plain SIGTERM to an mpm_event parent can race with worker threads still closing
// connections and crash a child, in Apache's own code. PR_SET_PDEATHSIG stops Apache if we are
// killed outright, so no server outlives its start-server.

#include "express/launch.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

namespace express {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void exec_apachectl(const Plan& plan, pid_t parent, const sigset_t& original) {
    sigprocmask(SIG_SETMASK, &original, nullptr);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        _exit(1);  // start-server already died
    }
    execl(plan.apachectl.c_str(), "apachectl", "start", "-DFOREGROUND", nullptr);
    std::cerr << "mod_wsgi-express: cannot run " << plan.apachectl << ": "
              << std::strerror(errno) << "\n";
    _exit(127);
}

int exit_status(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

}  // namespace

int run_in_foreground(const Plan& plan) {
    sigset_t handled, original;
    sigemptyset(&handled);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD, SIGWINCH}) {
        sigaddset(&handled, s);
    }
    sigprocmask(SIG_BLOCK, &handled, &original);
    const pid_t parent = getpid();
    const pid_t apache = fork();
    if (apache < 0) {
        std::cerr << "mod_wsgi-express: fork: " << std::strerror(errno) << "\n";
        return 1;
    }
    if (apache == 0) {
        exec_apachectl(plan, parent, original);
    }
    setpgid(apache, apache);  // also here: whichever runs first

    // Graceful stop first; SIGTERM when asked again or when it takes too long.
    const auto stop_grace = std::chrono::seconds(plan.options.shutdown_timeout + 10);
    bool stopping = false;
    Clock::time_point stop_deadline{};
    while (true) {
        int status = 0;
        pid_t done = waitpid(apache, &status, WNOHANG);
        if (done == apache) {
            return exit_status(status);
        }
        timespec wait{0, 200 * 1000 * 1000};
        int signal_number = sigtimedwait(&handled, nullptr, &wait);
        switch (signal_number) {
            case SIGINT:
            case SIGTERM:
                if (!stopping) {
                    stopping = true;
                    stop_deadline = Clock::now() + stop_grace;
                    kill(apache, SIGWINCH);
                } else {
                    kill(apache, SIGTERM);
                }
                break;
            case SIGHUP:
            case SIGUSR1:
                kill(apache, signal_number);
                break;
            default:  // SIGCHLD, SIGWINCH (a terminal resize, not for Apache), timeouts
                break;
        }
        if (stopping && Clock::now() > stop_deadline) {
            kill(apache, SIGTERM);
            stop_deadline = Clock::now() + stop_grace;
        }
    }
}

}  // namespace express
