#pragma once

// Running the generated server in the foreground (start-server).

#include "express/options.hpp"

namespace express {

// Runs `apachectl start -DFOREGROUND` in its own process group and waits for it. SIGINT and
// SIGTERM become a graceful stop (then a stop if they come again or it hangs), SIGHUP a
// restart, SIGUSR1 a graceful restart. Returns the exit status for main().
int run_in_foreground(const Plan& plan);

}  // namespace express
