#pragma once
// Calling the WSGI application and sending its response through Apache (PEP 3333 "The
// start_response() Callable", "Handling the Content-Length Header", "Buffering and
// Streaming"; mod_wsgi's wsgi_adapter.c behaviour).

#include <Python.h>

#include "wsgi/channel.hpp"
#include "wsgi/environ.hpp"
#include "wsgi/request.hpp"

namespace wsgi::wsgi {

// Creates the mod_wsgi.Adapter heap type (start_response and write) for the current
// interpreter (new reference), or nullptr with an exception set. GIL held.
PyObject* create_adapter_type();

class RequestScope;

// Calls `application` (borrowed) with `environ` (borrowed dict of the request's string
// variables, to which the wsgi.* objects are added) and sends the response through
// `channel`, within the request's `scope` (made for `environ` before the script was loaded,
// so that mod_wsgi.request_data() works in code the loading runs). Must be called with the
// GIL held by a thread attached to the application's interpreter; releases it around every
// channel call. Returns 0 (OK) once a response was sent (or the client went away), or an
// HTTP status to answer with when nothing was sent (500 for an application error, logged
// with its traceback; 4xx when reading the body failed).
int run_application(Channel& channel, const RequestSettings& settings, PyObject* application,
                    PyObject* environ, const EnvironFacts& facts, RequestScope& scope);

}  // namespace wsgi::wsgi
