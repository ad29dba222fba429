#pragma once
// wsgi.errors and the process's sys.stdout / sys.stderr: text streams whose lines land in
// Apache's error log at level error, as [wsgi:error] (PEP 3333 "wsgi.errors"; mod_wsgi's
// mod_wsgi.Log). A stream bound to a request logs through its channel; the standard streams
// log against the request the writing thread is serving, if any, else the main server.

#include <Python.h>

#include <string>
#include <vector>

#include "wsgi/channel.hpp"

namespace wsgi::wsgi {

// Creates the mod_wsgi.Log heap type for the current interpreter (new reference), or
// nullptr with an exception set. GIL held.
PyObject* create_log_type();

// A new Log stream (new reference) bound to a request's channel (may be null: server log),
// or nullptr with an exception set. A stream bound to a request also takes what the calling
// thread writes to sys.stdout and sys.stderr until expire_log_stream(), so that it is logged
// against that request and a partial line is logged when the request ends (mod_wsgi's
// per-thread log buffer). GIL held; the request's thread.
PyObject* new_log_stream(Channel* channel, const char* name);

// Flushes a buffered partial line (the thread's sys.stdout and sys.stderr writes included)
// and detaches the stream from its request: later writes go to the server log. Call when the
// request ends. GIL held; the request's thread.
void expire_log_stream(PyObject* stream);

// Replaces sys.stdout and sys.stderr of the current interpreter by Log streams. GIL held.
// Returns false with a Python exception set.
bool install_standard_streams();

// The channel of the request the calling thread is serving, for the standard streams; null
// outside one. Set for the duration of a request by a RequestStreamsScope.
Channel* current_channel();

// Logs each of `lines` at `level` against `channel`'s request, or the main server's log when
// `channel` is null. GIL held: it is released while logging.
void log_for_request(Channel* channel, int level, const std::vector<std::string>& lines);

// For the scope of one request (or access script) on the calling thread: sys.stdout and
// sys.stderr log through `channel`, not through the wsgi.errors of a request this one runs
// inside (an Apache subrequest made while another request's response is passed on); both are
// restored at the end of the scope. The request's thread.
class RequestStreamsScope {
public:
    explicit RequestStreamsScope(Channel& channel);
    ~RequestStreamsScope();
    RequestStreamsScope(const RequestStreamsScope&) = delete;
    RequestStreamsScope& operator=(const RequestStreamsScope&) = delete;

private:
    Channel* outer_channel_;
    void* outer_errors_;  // the outer request's wsgi.errors stream, if any
};

}  // namespace wsgi::wsgi
