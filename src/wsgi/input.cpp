#include "wsgi/input.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "python/gil.hpp"
#include "python/ref.hpp"
#include "wsgi/interpreter_setup.hpp"

namespace wsgi::wsgi {
namespace {

using python::GilRelease;
using python::Ref;

// Bytes asked of the input filters per read when the application asks for less or for
// "everything": big enough to amortise filter calls, small enough to bound memory.
constexpr std::size_t kReadBlock = 64 * 1024;

// Most bytes a read() allocates before the body has shown it has them: what the Content-Length
// still promises, or one block without one, and never more than this at first.
constexpr std::size_t kMaxFirstAllocation = 16 * 1024 * 1024;

struct InputState {
    std::string buffer;     // bytes readline() read from Apache not yet given to the application
    std::size_t offset = 0; // start of unconsumed bytes in buffer
    bool eof = false;
    bool busy = false;      // a read is in progress (GIL released) on some thread
    int error_status = 0;   // HTTP status of a failed read
    std::int64_t declared = -1;  // CONTENT_LENGTH; -1: unknown (chunked, or an input filter)
    std::int64_t received = 0;   // bytes the channel gave so far
    InputCounts counts;     // for request_finished and the metrics

    std::size_t available() const { return buffer.size() - offset; }

    // Counts bytes the channel gave. HTTP_IN never gives more than the Content-Length (and
    // `declared` is -1 where a request input filter above it may change the body, see
    // EnvironFacts::body_within_content_length), so once it is reached the body is complete:
    // no read need wait for the end of stream, and read() need not grow its bytes to look
    // for more.
    void add_received(std::size_t count) {
        received += static_cast<std::int64_t>(count);
        if (declared >= 0 && received >= declared) {
            eof = true;
        }
    }
};

struct InputObject {
    PyObject_HEAD
    Channel* channel;  // null once expired
    InputState* state;
};

// Ends a read: a channel error becomes OSError (PEP 3333 leaves the exception to the server;
// mod_wsgi raises this one) and the end of the body is remembered. GIL held. Returns false
// with the exception set on an error.
bool take_read_status(InputState& state, Channel::ReadStatus status, int error_status,
                      const std::string& error) {
    if (status == Channel::ReadStatus::kError) {
        state.eof = true;
        state.error_status = error_status;
        PyErr_Format(PyExc_OSError, "Apache/mod_wsgi request data read error: %s", error.c_str());
        return false;
    }
    if (status == Channel::ReadStatus::kEof) {
        state.eof = true;
    }
    return true;
}

// Reads up to `want` more bytes into the buffer. GIL held on entry and exit; released while
// the channel reads. Returns false with a Python exception set on failure.
bool fill(InputObject* self, std::size_t want) {
    InputState& state = *self->state;
    if (state.eof) {
        return true;
    }
    if (state.offset > 0 && state.offset >= state.buffer.size() / 2) {
        state.buffer.erase(0, state.offset);
        state.offset = 0;
    }
    state.busy = true;
    Channel::ReadStatus status;
    int error_status = 0;
    std::string error;
    {
        GilRelease release;
        metrics::ScopedTimer timer(state.counts.time);
        const std::size_t before = state.buffer.size();
        status = self->channel->read_body(state.buffer, std::clamp<std::size_t>(want, 1, kReadBlock),
                                          error_status, error);
        state.add_received(state.buffer.size() - before);
    }
    state.busy = false;
    return take_read_status(state, status, error_status, error);
}

bool check_usable(InputObject* self) {
    if (self->channel == nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "wsgi.input used after the request ended");
        return false;
    }
    if (self->state->busy) {
        PyErr_SetString(PyExc_RuntimeError, "wsgi.input is being read by another thread");
        return false;
    }
    if (self->state->error_status != 0) {
        PyErr_SetString(PyExc_OSError, "Apache/mod_wsgi request data read error: "
                                       "an earlier read failed");
        return false;
    }
    return true;
}

PyObject* take(InputState& state, std::size_t count) {
    count = std::min(count, state.available());
    ++state.counts.reads;
    state.counts.bytes += static_cast<std::int64_t>(count);
    PyObject* result = PyBytes_FromStringAndSize(state.buffer.data() + state.offset,
                                                 static_cast<Py_ssize_t>(count));
    state.offset += count;
    if (state.offset == state.buffer.size()) {
        state.buffer.clear();
        state.offset = 0;
    }
    return result;
}

bool parse_size(PyObject* args, Py_ssize_t& size) {
    PyObject* arg = Py_None;
    if (!PyArg_UnpackTuple(args, "read", 0, 1, &arg)) {
        return false;
    }
    size = -1;
    if (arg != Py_None) {
        size = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
        if (size == -1 && PyErr_Occurred()) {
            return false;
        }
    }
    return true;
}

// Moves up to `room` buffered bytes to `out`; returns how many.
std::size_t drain_buffer(InputState& state, char* out, std::size_t room) {
    std::size_t count = std::min(room, state.available());
    if (count > 0) {
        std::memcpy(out, state.buffer.data() + state.offset, count);
        state.offset += count;
    }
    if (state.offset == state.buffer.size()) {
        state.buffer.clear();
        state.offset = 0;
    }
    return count;
}

// Reads from the channel into `out` from `filled` until `capacity` is reached or the body
// ends. What has arrived already is taken with the GIL held: the body of a small request is
// usually all there, and giving the GIL away means waiting behind the other requests to get
// it back. For the rest the GIL is given up once. GIL held on entry and exit. Returns false
// with a Python exception set on failure.
bool fill_direct(InputObject* self, char* out, std::size_t& filled, std::size_t capacity) {
    InputState& state = *self->state;
    Channel::ReadStatus status = Channel::ReadStatus::kData;
    int error_status = 0;
    std::string error;
    auto read = [&](bool wait) {
        std::size_t length = 0;
        status = self->channel->read_body_into(out + filled, capacity - filled, length, wait,
                                               error_status, error);
        filled += length;
        state.add_received(length);
        return length;
    };
    state.busy = true;
    {
        metrics::ScopedTimer timer(state.counts.time);
        auto more = [&] {
            return filled < capacity && !state.eof && status == Channel::ReadStatus::kData;
        };
        while (more() && read(false) > 0) {
        }
        if (more()) {
            GilRelease release;
            while (more()) {
                read(true);
            }
        }
    }
    state.busy = false;
    return take_read_status(state, status, error_status, error);
}

// How many bytes a read of `wanted` (SIZE_MAX: all) should allocate at first: what is
// buffered plus what the Content-Length still promises (one block without one).
std::size_t first_capacity(const InputState& state, std::size_t wanted) {
    std::size_t expected = kReadBlock;
    if (state.declared >= 0) {
        expected = static_cast<std::size_t>(std::max<std::int64_t>(
            state.declared - state.received, 0));
    }
    expected = std::min(expected, kMaxFirstAllocation);
    return std::max<std::size_t>(std::min(wanted, state.available() + expected), 1);
}

// read(size) when the buffer cannot answer alone: the body goes straight into the bytes
// object returned, grown only when the body turns out longer than expected.
PyObject* read_direct(InputObject* self, std::size_t wanted) {
    InputState& state = *self->state;
    std::size_t capacity = first_capacity(state, wanted);
    PyObject* result = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(capacity));
    if (result == nullptr) {
        return nullptr;
    }
    std::size_t filled = drain_buffer(state, PyBytes_AS_STRING(result), capacity);
    while (filled < wanted && !state.eof) {
        if (filled == capacity) {
            capacity = capacity > wanted / 2 ? wanted : capacity * 2;
            if (_PyBytes_Resize(&result, static_cast<Py_ssize_t>(capacity)) != 0) {
                return nullptr;  // result was freed
            }
        }
        if (!fill_direct(self, PyBytes_AS_STRING(result), filled, capacity)) {
            Py_DECREF(result);
            return nullptr;
        }
    }
    ++state.counts.reads;
    state.counts.bytes += static_cast<std::int64_t>(filled);
    if (filled == 0) {
        // Never resize to 0: that would hand back Python's shared empty bytes object.
        Py_DECREF(result);
        return PyBytes_FromStringAndSize(nullptr, 0);
    }
    if (filled < capacity && _PyBytes_Resize(&result, static_cast<Py_ssize_t>(filled)) != 0) {
        return nullptr;
    }
    return result;
}

PyObject* input_read(PyObject* obj, PyObject* args) noexcept {
    auto* self = reinterpret_cast<InputObject*>(obj);
    try {
        Py_ssize_t size = -1;
        if (!parse_size(args, size) || !check_usable(self)) {
            return nullptr;
        }
        InputState& state = *self->state;
        // Negative: everything up to the end of the body.
        std::size_t wanted = size < 0 ? SIZE_MAX : static_cast<std::size_t>(size);
        if (wanted == 0 || state.eof || state.available() >= wanted) {
            return take(state, wanted);
        }
        return read_direct(self, wanted);
    } catch (...) {
        PyErr_NoMemory();
        return nullptr;
    }
}

// One line of at most `limit` bytes (negative: unlimited), newline included.
PyObject* read_line(InputObject* self, Py_ssize_t limit) {
    InputState& state = *self->state;
    std::size_t searched = 0;
    while (true) {
        const char* begin = state.buffer.data() + state.offset;
        std::size_t available = state.available();
        const void* newline = searched < available
                                  ? memchr(begin + searched, '\n', available - searched)
                                  : nullptr;
        std::size_t line_length = newline != nullptr
                                      ? static_cast<const char*>(newline) - begin + 1
                                      : available;
        if (limit >= 0 && line_length >= static_cast<std::size_t>(limit)) {
            return take(state, static_cast<std::size_t>(limit));
        }
        if (newline != nullptr || state.eof) {
            return take(state, line_length);
        }
        searched = available;
        std::size_t want = kReadBlock;
        if (limit >= 0) {
            want = static_cast<std::size_t>(limit) - available;
        }
        if (!fill(self, want)) {
            return nullptr;
        }
    }
}

PyObject* input_readline(PyObject* obj, PyObject* args) noexcept {
    auto* self = reinterpret_cast<InputObject*>(obj);
    try {
        Py_ssize_t size = -1;
        if (!parse_size(args, size) || !check_usable(self)) {
            return nullptr;
        }
        return read_line(self, size);
    } catch (...) {
        PyErr_NoMemory();
        return nullptr;
    }
}

PyObject* input_readlines(PyObject* obj, PyObject* args) noexcept {
    auto* self = reinterpret_cast<InputObject*>(obj);
    try {
        Py_ssize_t hint = -1;
        if (!parse_size(args, hint) || !check_usable(self)) {
            return nullptr;
        }
        Ref lines = Ref::steal(PyList_New(0));
        if (!lines) {
            return nullptr;
        }
        Py_ssize_t total = 0;
        while (true) {
            Ref line = Ref::steal(read_line(self, -1));
            if (!line) {
                return nullptr;
            }
            Py_ssize_t length = PyBytes_GET_SIZE(line.get());
            if (length == 0) {
                break;
            }
            if (PyList_Append(lines.get(), line.get()) != 0) {
                return nullptr;
            }
            total += length;
            if (hint > 0 && total >= hint) {
                break;
            }
        }
        return lines.release();
    } catch (...) {
        PyErr_NoMemory();
        return nullptr;
    }
}

PyObject* input_iternext(PyObject* obj) noexcept {
    auto* self = reinterpret_cast<InputObject*>(obj);
    try {
        if (!check_usable(self)) {
            return nullptr;
        }
        Ref line = Ref::steal(read_line(self, -1));
        if (!line || PyBytes_GET_SIZE(line.get()) == 0) {
            return nullptr;  // StopIteration is implied when no exception is set
        }
        return line.release();
    } catch (...) {
        PyErr_NoMemory();
        return nullptr;
    }
}

PyObject* input_close(PyObject*, PyObject*) noexcept { Py_RETURN_NONE; }

void input_dealloc(PyObject* obj) noexcept {
    auto* self = reinterpret_cast<InputObject*>(obj);
    delete self->state;
    PyTypeObject* type = Py_TYPE(obj);
    type->tp_free(obj);
    Py_DECREF(type);
}

PyMethodDef kInputMethods[] = {
    {"read", input_read, METH_VARARGS, "read([size]) -> bytes"},
    {"readline", input_readline, METH_VARARGS, "readline([size]) -> bytes"},
    {"readlines", input_readlines, METH_VARARGS, "readlines([hint]) -> list of bytes"},
    {"close", input_close, METH_NOARGS, "No-op."},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot kInputSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(input_dealloc)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(input_iternext)},
    {Py_tp_methods, kInputMethods},
    {Py_tp_doc, const_cast<char*>("wsgi.input: the request body, streamed from Apache.")},
    {0, nullptr},
};

PyType_Spec kInputSpec = {"mod_wsgi.Input", sizeof(InputObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, kInputSlots};

PyTypeObject* input_type() {
    return reinterpret_cast<PyTypeObject*>(wsgi_state().input_type.get());
}

}  // namespace

PyObject* create_input_type() { return PyType_FromSpec(&kInputSpec); }

PyObject* new_input(Channel* channel, std::int64_t content_length) {
    auto* self = PyObject_New(InputObject, input_type());
    if (self == nullptr) {
        return nullptr;
    }
    self->channel = channel;
    self->state = new (std::nothrow) InputState();
    if (self->state == nullptr) {
        self->channel = nullptr;
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->state->declared = content_length;
    self->state->eof = content_length == 0;
    return reinterpret_cast<PyObject*>(self);
}

void expire_input(PyObject* input) {
    if (input != nullptr && Py_TYPE(input) == input_type()) {
        reinterpret_cast<InputObject*>(input)->channel = nullptr;
    }
}

InputCounts input_counts(PyObject* input) {
    if (input == nullptr || Py_TYPE(input) != input_type()) {
        return {};
    }
    return reinterpret_cast<InputObject*>(input)->state->counts;
}

int input_error_status(PyObject* input) {
    if (input == nullptr || Py_TYPE(input) != input_type()) {
        return 0;
    }
    return reinterpret_cast<InputObject*>(input)->state->error_status;
}

}  // namespace wsgi::wsgi
