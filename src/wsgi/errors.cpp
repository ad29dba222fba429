#include "wsgi/errors.hpp"

#include <string>
#include <vector>

#include "apache/log.hpp"
#include "python/gil.hpp"
#include "python/ref.hpp"
#include "wsgi/interpreter_setup.hpp"

namespace wsgi::wsgi {
namespace {

using python::GilRelease;
using python::Ref;

thread_local Channel* t_current_channel = nullptr;

struct LogObject {
    PyObject_HEAD
    Channel* channel;       // null: log against current_channel() or the server
    bool bound;             // bound to one request (wsgi.errors) rather than a thread's
    std::string* pending;   // partial line not yet logged
    PyObject* name;
};

// The wsgi.errors stream of the request the calling thread is serving (null outside one):
// what the thread writes to sys.stdout and sys.stderr goes through it, as mod_wsgi does, so a
// partial line is logged against its own request when the request ends rather than joined to
// whatever another request writes next.
thread_local LogObject* t_request_errors = nullptr;

// Where a write to `self` goes: a standard stream written by a thread serving a request
// writes through that request's wsgi.errors.
LogObject* destination(LogObject* self) {
    return !self->bound && t_request_errors != nullptr ? t_request_errors : self;
}

void emit_lines(LogObject* self, std::vector<std::string>& lines) {
    if (!lines.empty()) {
        log_for_request(self->bound ? self->channel : t_current_channel, APLOG_ERR, lines);
    }
}

// Appends text and logs every complete line.
void append_text(LogObject* self, std::string_view text) {
    std::vector<std::string> lines;
    std::string& pending = *self->pending;
    while (!text.empty()) {
        auto newline = text.find('\n');
        if (newline == std::string_view::npos) {
            pending.append(text);
            break;
        }
        pending.append(text.substr(0, newline));
        lines.push_back(std::move(pending));
        pending.clear();
        text.remove_prefix(newline + 1);
    }
    emit_lines(self, lines);
}

void flush_pending(LogObject* self) {
    if (self->pending->empty()) {
        return;
    }
    std::vector<std::string> lines{std::move(*self->pending)};
    self->pending->clear();
    emit_lines(self, lines);
}

PyObject* log_write(PyObject* obj, PyObject* arg) noexcept {
    auto* self = destination(reinterpret_cast<LogObject*>(obj));
    try {
        if (PyUnicode_Check(arg)) {
            Py_ssize_t size = 0;
            const char* data = PyUnicode_AsUTF8AndSize(arg, &size);
            if (data == nullptr) {
                // Lone surrogates and the like: log them escaped rather than fail the app.
                PyErr_Clear();
                Ref encoded = Ref::steal(PyUnicode_AsEncodedString(arg, "utf-8",
                                                                   "backslashreplace"));
                if (!encoded) {
                    return nullptr;
                }
                append_text(self, std::string_view(PyBytes_AS_STRING(encoded.get()),
                                                   PyBytes_GET_SIZE(encoded.get())));
            } else {
                append_text(self, std::string_view(data, static_cast<std::size_t>(size)));
            }
            return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(arg));
        }
        Py_buffer view;
        if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) == 0) {
            append_text(self, std::string_view(static_cast<const char*>(view.buf),
                                               static_cast<std::size_t>(view.len)));
            Py_ssize_t length = view.len;
            PyBuffer_Release(&view);
            return PyLong_FromSsize_t(length);
        }
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "write() argument must be str, not %.200s",
                     Py_TYPE(arg)->tp_name);
        return nullptr;
    } catch (...) {
        PyErr_SetString(PyExc_MemoryError, "log write failed");
        return nullptr;
    }
}

PyObject* log_writelines(PyObject* obj, PyObject* arg) noexcept {
    Ref iterator = Ref::steal(PyObject_GetIter(arg));
    if (!iterator) {
        return nullptr;
    }
    while (Ref item = Ref::steal(PyIter_Next(iterator.get()))) {
        Ref result = Ref::steal(log_write(obj, item.get()));
        if (!result) {
            return nullptr;
        }
    }
    if (PyErr_Occurred()) {
        return nullptr;
    }
    Py_RETURN_NONE;
}

PyObject* log_flush(PyObject* obj, PyObject*) noexcept {
    try {
        flush_pending(destination(reinterpret_cast<LogObject*>(obj)));
    } catch (...) {
        PyErr_SetString(PyExc_MemoryError, "log flush failed");
        return nullptr;
    }
    Py_RETURN_NONE;
}

PyObject* log_false(PyObject*, PyObject*) noexcept { Py_RETURN_FALSE; }

PyObject* log_true(PyObject*, PyObject*) noexcept { Py_RETURN_TRUE; }

PyObject* log_fileno(PyObject*, PyObject*) noexcept {
    PyErr_SetString(PyExc_OSError, "log object has no file descriptor");
    return nullptr;
}

// io.TextIOWrapper.reconfigure(): code reused from command line tools calls it on sys.stdout
// (encoding='utf-8', line_buffering=True...). The stream always logs lines as UTF-8 as they
// complete, so the keywords are checked and nothing changes.
PyObject* log_reconfigure(PyObject*, PyObject* args, PyObject* kwargs) noexcept {
    static const char* keywords[] = {"encoding", "errors", "newline", "line_buffering",
                                     "write_through", nullptr};
    PyObject* ignored[5] = {};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOOOO:reconfigure",
                                     const_cast<char**>(keywords), &ignored[0], &ignored[1],
                                     &ignored[2], &ignored[3], &ignored[4])) {
        return nullptr;
    }
    Py_RETURN_NONE;
}

PyObject* log_get_none(PyObject*, void*) noexcept { Py_RETURN_NONE; }

PyObject* log_get_name(PyObject* obj, void*) noexcept {
    return Py_NewRef(reinterpret_cast<LogObject*>(obj)->name);
}

PyObject* log_get_encoding(PyObject*, void*) noexcept { return PyUnicode_FromString("utf-8"); }

PyObject* log_get_errors(PyObject*, void*) noexcept {
    return PyUnicode_FromString("backslashreplace");
}

PyObject* log_get_closed(PyObject*, void*) noexcept { Py_RETURN_FALSE; }

// What io.TextIOWrapper offers and code writing to sys.stdout uses: the binary stream under
// it (this stream takes bytes as well as text) and its line buffering (each line is logged
// when complete).
PyObject* log_get_buffer(PyObject* obj, void*) noexcept { return Py_NewRef(obj); }

PyObject* log_get_true(PyObject*, void*) noexcept { Py_RETURN_TRUE; }

void log_dealloc(PyObject* obj) noexcept {
    auto* self = reinterpret_cast<LogObject*>(obj);
    if (t_request_errors == self) {
        t_request_errors = nullptr;
    }
    if (!self->pending->empty()) {
        try {
            flush_pending(self);
        } catch (...) {
        }
    }
    delete self->pending;
    Py_XDECREF(self->name);
    PyTypeObject* type = Py_TYPE(obj);
    type->tp_free(obj);
    Py_DECREF(type);  // instances of heap types own a reference to their type
}

PyMethodDef kLogMethods[] = {
    {"write", log_write, METH_O, "Write text; complete lines go to the Apache error log."},
    {"writelines", log_writelines, METH_O, "Write each string of an iterable."},
    {"flush", log_flush, METH_NOARGS, "Log a pending partial line."},
    {"close", log_flush, METH_NOARGS, "Flush; the stream stays usable."},
    {"isatty", log_false, METH_NOARGS, "False."},
    {"readable", log_false, METH_NOARGS, "False."},
    {"seekable", log_false, METH_NOARGS, "False."},
    {"writable", log_true, METH_NOARGS, "True."},
    {"fileno", log_fileno, METH_NOARGS, "Raises OSError: no file descriptor."},
    {"reconfigure", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(log_reconfigure)),
     METH_VARARGS | METH_KEYWORDS, "Accepts io.TextIOWrapper's keywords; changes nothing."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef kLogGetSet[] = {
    {"name", log_get_name, nullptr, nullptr, nullptr},
    {"encoding", log_get_encoding, nullptr, nullptr, nullptr},
    {"errors", log_get_errors, nullptr, nullptr, nullptr},
    {"closed", log_get_closed, nullptr, nullptr, nullptr},
    {"buffer", log_get_buffer, nullptr, nullptr, nullptr},
    {"line_buffering", log_get_true, nullptr, nullptr, nullptr},
    {"write_through", log_get_true, nullptr, nullptr, nullptr},
    {"newlines", log_get_none, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot kLogSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(log_dealloc)},
    {Py_tp_methods, kLogMethods},
    {Py_tp_getset, kLogGetSet},
    {Py_tp_doc, const_cast<char*>("Text stream writing lines to the Apache error log.")},
    {0, nullptr},
};

PyType_Spec kLogSpec = {"mod_wsgi.Log", sizeof(LogObject), 0,
                        Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, kLogSlots};

PyTypeObject* log_type() {
    return reinterpret_cast<PyTypeObject*>(wsgi_state().log_type.get());
}

}  // namespace

PyObject* create_log_type() {
    Ref type = Ref::steal(PyType_FromSpec(&kLogSpec));
    // A virtual subclass of io.TextIOBase (an ABC), as the io.TextIOWrapper mod_wsgi hands
    // out is: isinstance(sys.stdout, io.TextIOBase) holds.
    Ref io = type ? Ref::steal(PyImport_ImportModule("io")) : Ref();
    Ref base = io ? Ref::steal(PyObject_GetAttrString(io.get(), "TextIOBase")) : Ref();
    Ref registered =
        base ? Ref::steal(PyObject_CallMethod(base.get(), "register", "O", type.get())) : Ref();
    return registered ? type.release() : nullptr;
}

PyObject* new_log_stream(Channel* channel, const char* name) {
    auto* self = PyObject_New(LogObject, log_type());
    if (self == nullptr) {
        return nullptr;
    }
    self->channel = channel;
    self->bound = channel != nullptr;
    self->pending = new std::string();
    self->name = PyUnicode_FromString(name);
    if (self->name == nullptr) {
        Py_DECREF(self);
        return nullptr;
    }
    if (self->bound) {
        t_request_errors = self;
    }
    return reinterpret_cast<PyObject*>(self);
}

void expire_log_stream(PyObject* stream) {
    if (stream == nullptr || Py_TYPE(stream) != log_type()) {
        return;
    }
    auto* self = reinterpret_cast<LogObject*>(stream);
    flush_pending(self);
    self->channel = nullptr;
    if (t_request_errors == self) {
        t_request_errors = nullptr;
    }
}

bool install_standard_streams() {
    Ref out = Ref::steal(new_log_stream(nullptr, "<stdout>"));
    Ref err = Ref::steal(new_log_stream(nullptr, "<stderr>"));
    if (!out || !err) {
        return false;
    }
    return PySys_SetObject("stdout", out.get()) == 0 && PySys_SetObject("stderr", err.get()) == 0;
}

Channel* current_channel() { return t_current_channel; }

void log_for_request(Channel* channel, int level, const std::vector<std::string>& lines) {
    GilRelease release;
    for (const auto& line : lines) {
        if (channel != nullptr) {
            channel->log(level, line);
        } else {
            apache::log_line(level, nullptr, nullptr, line);
        }
    }
}

RequestStreamsScope::RequestStreamsScope(Channel& channel)
    : outer_channel_(t_current_channel), outer_errors_(t_request_errors) {
    t_current_channel = &channel;
    t_request_errors = nullptr;
}

RequestStreamsScope::~RequestStreamsScope() {
    t_current_channel = outer_channel_;
    t_request_errors = static_cast<LogObject*>(outer_errors_);
}

}  // namespace wsgi::wsgi
