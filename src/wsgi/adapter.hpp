#pragma once
// Calling the WSGI application and sending its response through Apache (PEP 3333 "The
// start_response() Callable", "Handling the Content-Length Header", "Buffering and
// Streaming"; mod_wsgi's wsgi_adapter.c behaviour).

#include <Python.h>
#include <httpd.h>

#include "wsgi/request.hpp"

namespace wsgi::wsgi {

// Creates the mod_wsgi.Adapter heap type (start_response and write) for the current
// interpreter (new reference), or nullptr with an exception set. GIL held.
PyObject* create_adapter_type();

// Calls `application` (borrowed) for request `r` and sends the response. Must be called
// with the GIL held by a thread attached to the application's interpreter; releases it
// around every blocking Apache call. Returns OK once a response was sent (or the client went
// away), or an HTTP status for Apache to answer with when nothing was sent (500 for an
// application error, logged with its traceback; 4xx when reading the body failed).
int run_application(request_rec* r, const RequestSettings& settings, PyObject* application);

}  // namespace wsgi::wsgi
