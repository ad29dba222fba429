#pragma once
// The dicts returned by mod_wsgi.process_metrics(), request_metrics() and server_metrics()
// (mod_wsgi docs, "The Internal Metrics API" and "WSGIServerMetrics"), built from the
// process's metrics::Recorder and Apache's scoreboard. Any thread of any interpreter may
// call these with the GIL held; each returns a new reference, or nullptr with an exception
// set.

#include <Python.h>

namespace wsgi::wsgi {

// process_metrics(): None until start_recording_metrics() was called.
PyObject* process_metrics_dict();

// request_metrics(): drains the current interval. None until start_recording_metrics().
PyObject* request_metrics_dict();

// server_metrics(): the scoreboard, or None unless allowed in this process (and a scoreboard
// exists).
PyObject* server_metrics_dict();

// Whether server_metrics() may report in this process: `WSGIServerMetrics On` in an Apache
// child, the group's `server-metrics=on` in a daemon process (independent of each other, as
// in mod_wsgi: the scoreboard shows every client's address and request line). Set once when
// Python starts, before requests run.
void allow_server_metrics(bool allowed);

}  // namespace wsgi::wsgi
