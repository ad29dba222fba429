#pragma once
// Apache's log id (%L in LogFormat and ErrorLogFormat; mod_wsgi.request_id in the environ),
// made as the core makes it but with the process id remembered rather than asked of the
// kernel for every request: mod_wsgi makes one for every request (environ_from_request), and
// the core's generator (server/log.c, core_generate_log_id) costs a getpid system call each
// time.

#include <httpd.h>

namespace wsgi::apache {

// generate_log_id hook (http_log.h), registered at APR_HOOK_LAST: mod_unique_id or any other
// module's generator runs first; the core's, at APR_HOOK_REALLY_LAST, then does not run. The
// id is the core's: the request time (else now), in microseconds, XOR the process id shifted
// to bit 40 and its bits 24 and up to bit 56, XOR the thread's apr_thread_t pointer shifted to
// bit 32; the 8 bytes in memory order, base64 without the final '='. Allocated from r->pool,
// else c->pool. Any thread. Always OK.
int generate_log_id(const conn_rec* c, const request_rec* r, const char** id) noexcept;

// Makes a child process forget the parent's remembered process id (pthread_atfork); called
// once by register_hooks, in the parent, before any fork. Apache's children, daemon processes
// and an application's os.fork() all go through fork(); a process made by a raw clone()
// without exec would keep its parent's id in its log ids.
void forget_process_id_on_fork() noexcept;

}  // namespace wsgi::apache
