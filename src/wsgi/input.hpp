#pragma once
// wsgi.input: the request body as a file-like object (PEP 3333 "Input and Error Streams").
// Reads are streamed from the request's channel (in the end Apache's input filters, so
// dechunking, LimitRequestBody and mod_reqtimeout apply) as the application asks; the body is
// never held whole. read(size) copies the body straight into the bytes object it returns,
// giving up the GIL once per call; readline() and iteration go through a small buffer.

#include <Python.h>

#include <cstdint>

#include "wsgi/channel.hpp"
#include "wsgi/metrics.hpp"

namespace wsgi::wsgi {

// Creates the mod_wsgi.Input heap type for the current interpreter (new reference), or
// nullptr with an exception set. GIL held.
PyObject* create_input_type();

// A new wsgi.input object reading from `channel` (new reference), or nullptr with an
// exception set. `content_length` is what the body is known not to exceed: the request's
// CONTENT_LENGTH, or -1 when there is none (chunked) or a request input filter may change
// the body (EnvironFacts::body_within_content_length); it sizes reads, and once that many
// bytes have come the body has ended. GIL held; the object must be expired before the request
// ends.
PyObject* new_input(Channel* channel, std::int64_t content_length);

// Detaches the object from its request: later reads raise. GIL held.
void expire_input(PyObject* input);

// The HTTP status an input filter reported when a read failed (e.g. 413 past
// LimitRequestBody, 400 for a bad chunk, 408 on a read timeout), or 0 when reads did not fail.
int input_error_status(PyObject* input);

// What the application read: read calls (read, readline, readlines' lines, iteration), bytes
// given to it, and the time spent waiting for the channel.
struct InputCounts {
    std::int64_t reads = 0;
    std::int64_t bytes = 0;
    metrics::Micros time = 0;
};

// The counts of a wsgi.input object (zeros for anything else). GIL held.
InputCounts input_counts(PyObject* input);

}  // namespace wsgi::wsgi
