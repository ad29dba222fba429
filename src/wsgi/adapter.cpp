#include "wsgi/adapter.hpp"

#include <httpd.h>
#include <http_log.h>
#include <sys/stat.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/http_validate.hpp"
#include "common/text.hpp"
#include "python/error.hpp"
#include "python/gil.hpp"
#include "python/ref.hpp"
#include "wsgi/environ.hpp"
#include "wsgi/errors.hpp"
#include "wsgi/events.hpp"
#include "wsgi/file_wrapper.hpp"
#include "wsgi/input.hpp"
#include "wsgi/interpreter_setup.hpp"

namespace wsgi::wsgi {
namespace {

using python::GilRelease;
using python::Ref;

// A native string (str) as latin-1 bytes (PEP 3333 "Unicode Issues"). Sets an exception
// and returns nullopt when `object` is not a str or not latin-1.
std::optional<std::string> latin1(PyObject* object, const char* what) {
    if (!PyUnicode_Check(object)) {
        PyErr_Format(PyExc_TypeError, "expected unicode object for %s, value of type %.200s found",
                     what, Py_TYPE(object)->tp_name);
        return std::nullopt;
    }
    if (PyUnicode_IS_READY(object) && PyUnicode_KIND(object) == PyUnicode_1BYTE_KIND) {
        // Already one latin-1 byte per character (ASCII or latin-1): no encoding step.
        return std::string(reinterpret_cast<const char*>(PyUnicode_1BYTE_DATA(object)),
                           static_cast<std::size_t>(PyUnicode_GET_LENGTH(object)));
    }
    Ref bytes = Ref::steal(PyUnicode_AsLatin1String(object));
    if (!bytes) {
        return std::nullopt;
    }
    return std::string(PyBytes_AS_STRING(bytes.get()),
                       static_cast<std::size_t>(PyBytes_GET_SIZE(bytes.get())));
}

// The response side of one request: start_response, write() and the response iterable.
class Response {
public:
    Response(Channel& channel, const RequestSettings& settings)
        : channel_(channel), settings_(settings) {}

    // PEP 3333 start_response. Returns false with an exception set.
    bool start_response(PyObject* args, PyObject* kwargs);
    // The write() callable. New reference to None, or nullptr with an exception set.
    PyObject* write(PyObject* data);

    // Sends the response iterable. Returns false with an exception set on failure.
    bool send_iterable(PyObject* result);
    // Ends a response whose body was sent: headers if still pending, the end of the
    // response, the Content-Length check. Returns false with an exception set when nothing
    // was sent and start_response was never called.
    bool finish();
    // Cuts the response after headers went out: the client must see it as incomplete.
    void abort();

    bool headers_sent() const { return headers_sent_; }
    bool client_gone() const { return client_gone_; }
    // For request_finished and the metrics: the status given to start_response (0: none),
    // body bytes sent, channel writes and the time they took.
    int status() const { return status_; }
    std::int64_t sent() const { return sent_; }
    std::int64_t writes() const { return writes_; }
    metrics::Micros write_time() const { return write_time_; }

private:
    bool commit_headers();
    bool send_block(const char* data, std::size_t length, Pass pass);
    enum class FileResult { kSent, kNotAFile, kFailed };
    FileResult send_file(PyObject* filelike);
    // Reports a failed channel call: the client is gone.
    bool client_failed(const std::string& error);

    Channel& channel_;
    const RequestSettings& settings_;
    bool status_set_ = false;
    bool headers_sent_ = false;
    bool ended_ = false;
    bool client_gone_ = false;
    int status_ = 0;
    std::string status_line_;
    HeaderList headers_;
    std::optional<std::int64_t> content_length_;
    std::int64_t sent_ = 0;
    std::int64_t writes_ = 0;
    metrics::Micros write_time_ = 0;
};

// Raises the exception an exc_info tuple (type, value, traceback) holds, as start_response
// must once headers went out (PEP 3333). Whatever else the tuple holds (sys.exc_info() called
// outside an except block gives three Nones) raises TypeError instead: handing the
// interpreter a non-exception as its current exception would crash it. GIL held.
void reraise_exc_info(PyObject* exc_info) {
    PyObject* type = PyTuple_GET_ITEM(exc_info, 0);
    PyObject* value = PyTuple_GET_ITEM(exc_info, 1);
    PyObject* traceback = PyTuple_GET_ITEM(exc_info, 2);
    if (PyExceptionInstance_Check(value)) {
        if (PyTraceBack_Check(traceback)) {
            PyException_SetTraceback(value, traceback);
        }
        PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(value)), value);
    } else if (PyExceptionClass_Check(type)) {
        PyErr_SetObject(type, value);  // instantiated as type(value), or type() for None
    } else {
        PyErr_Format(PyExc_TypeError,
                     "exc_info holds no exception (its value is %.200s): pass sys.exc_info() "
                     "from within an except block",
                     Py_TYPE(value)->tp_name);
    }
}

struct AdapterObject {
    PyObject_HEAD
    Response* response;  // null once the request is over
};

bool Response::start_response(PyObject* args, PyObject* kwargs) {
    static const char* kKeywords[] = {"status", "response_headers", "exc_info", nullptr};
    PyObject* status = nullptr;
    PyObject* headers = nullptr;
    PyObject* exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response",
                                     const_cast<char**>(kKeywords), &status, &headers,
                                     &exc_info)) {
        return false;
    }
    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_TypeError, "exc_info argument must be a tuple of 3 items");
            return false;
        }
        if (headers_sent_) {
            // PEP 3333: re-raise the original exception once headers went out.
            reraise_exc_info(exc_info);
            return false;
        }
    } else if (status_set_) {
        PyErr_SetString(PyExc_RuntimeError,
                        headers_sent_ ? "headers have already been sent"
                                      : "start_response() called a second time without exc_info");
        return false;
    }

    auto status_line = latin1(status, "status");
    if (!status_line) {
        return false;
    }
    if (auto error = common::check_status_line(*status_line)) {
        PyErr_Format(PyExc_ValueError, "%s: '%s'", error->c_str(),
                     common::escape_log_text(*status_line).c_str());
        return false;
    }
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "response headers must be a list, not %.200s",
                     Py_TYPE(headers)->tp_name);
        return false;
    }
    std::vector<std::pair<std::string, std::string>> parsed;
    parsed.reserve(static_cast<std::size_t>(PyList_GET_SIZE(headers)));
    std::optional<std::int64_t> content_length;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); ++i) {
        PyObject* item = PyList_GET_ITEM(headers, i);
        if (!PyTuple_Check(item)) {
            PyErr_Format(PyExc_TypeError, "list of tuple values expected, value of type %.200s found",
                         Py_TYPE(item)->tp_name);
            return false;
        }
        if (PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_ValueError, "tuple of length 2 expected, length is %zd",
                         PyTuple_GET_SIZE(item));
            return false;
        }
        auto name = latin1(PyTuple_GET_ITEM(item, 0), "header name");
        if (!name) {
            return false;
        }
        auto value = latin1(PyTuple_GET_ITEM(item, 1), "header value");
        if (!value) {
            return false;
        }
        // The name as it may be shown in an error message; made only for one.
        auto shown = [&name] { return common::escape_log_text(*name); };
        if (auto error = common::check_header_name(*name)) {
            PyErr_Format(PyExc_ValueError, "%s: '%s'", error->c_str(), shown().c_str());
            return false;
        }
        if (auto error = common::check_header_value(*value)) {
            PyErr_Format(PyExc_ValueError, "%s '%s'", error->c_str(), shown().c_str());
            return false;
        }
        if (common::is_hop_by_hop_header(*name)) {
            PyErr_Format(PyExc_ValueError, "hop-by-hop header '%s' is not allowed (PEP 3333)",
                         shown().c_str());
            return false;
        }
        if (common::iequals(*name, "Content-Length")) {
            if (content_length) {
                // HTTP allows one (RFC 9110 8.6); which one the client believes is a guess.
                PyErr_SetString(PyExc_ValueError, "more than one Content-Length header");
                return false;
            }
            content_length = common::parse_content_length(*value);
            if (!content_length) {
                PyErr_Format(PyExc_ValueError, "invalid Content-Length header value: '%s'",
                             common::escape_log_text(*value).c_str());
                return false;
            }
        }
        parsed.emplace_back(std::move(*name), std::move(*value));
    }
    status_ = std::stoi(status_line->substr(0, 3));
    status_line_ = std::move(*status_line);
    headers_ = std::move(parsed);
    content_length_ = content_length;
    status_set_ = true;
    return true;
}

bool Response::commit_headers() {
    if (!status_set_) {
        PyErr_SetString(PyExc_RuntimeError, "response has not been started");
        return false;
    }
    channel_.set_headers(status_, status_line_, headers_, content_length_);
    headers_sent_ = true;
    return true;
}

bool Response::client_failed(const std::string& error) {
    client_gone_ = true;
    PyErr_Format(PyExc_OSError, "Apache/mod_wsgi failed to write response data: %s",
                 error.c_str());
    return false;
}

bool Response::send_block(const char* data, std::size_t length, Pass pass) {
    if (client_gone_) {
        PyErr_SetString(PyExc_OSError,
                        "Apache/mod_wsgi failed to write response data: client connection closed");
        return false;
    }
    if (!headers_sent_ && !commit_headers()) {
        return false;
    }
    if (content_length_) {
        // Never more than the declared Content-Length (PEP 3333).
        auto remaining = static_cast<std::size_t>(*content_length_ - sent_);
        if (length > remaining) {
            length = remaining;
        }
    }
    if (length == 0 && pass == Pass::kNoFlush) {
        return true;
    }
    sent_ += static_cast<std::int64_t>(length);
    ended_ = ended_ || pass == Pass::kEos;
    if (pass == Pass::kEos && channel_.defer_last_block(data, length)) {
        ++writes_;
        return true;
    }
    std::string error;
    bool ok;
    {
        GilRelease release;
        metrics::ScopedTimer timer(write_time_);
        ok = channel_.send_body(data, length, pass, error);
    }
    ++writes_;
    return ok || client_failed(error);
}

PyObject* Response::write(PyObject* data) {
    if (!status_set_) {
        PyErr_SetString(PyExc_RuntimeError, "response has not been started");
        return nullptr;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "byte string value expected, value of type %.200s found",
                     Py_TYPE(data)->tp_name);
        return nullptr;
    }
    Py_ssize_t length = PyBytes_GET_SIZE(data);
    if (!send_block(PyBytes_AS_STRING(data), static_cast<std::size_t>(length), Pass::kFlush)) {
        return nullptr;
    }
    Py_RETURN_NONE;
}

Response::FileResult Response::send_file(PyObject* filelike) {
    Ref fileno = Ref::steal(PyObject_CallMethod(filelike, "fileno", nullptr));
    Ref position = fileno ? Ref::steal(PyObject_CallMethod(filelike, "tell", nullptr)) : Ref();
    if (!position) {
        PyErr_Clear();
        return FileResult::kNotAFile;
    }
    int fd = PyObject_AsFileDescriptor(fileno.get());
    long long offset = PyLong_AsLongLong(position.get());
    struct stat info;
    if (fd < 0 || offset < 0 || fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        PyErr_Clear();
        return FileResult::kNotAFile;
    }
    std::int64_t length = info.st_size > offset ? info.st_size - offset : 0;
    if (content_length_ && *content_length_ < length) {
        length = *content_length_;
    }
    if (!content_length_) {
        content_length_ = length;
    }
    if (!commit_headers()) {
        return FileResult::kFailed;
    }
    sent_ = length;
    bool end = sent_ == *content_length_;
    ended_ = end;
    std::string error;
    bool ok;
    {
        GilRelease release;
        metrics::ScopedTimer timer(write_time_);
        ok = channel_.send_file(fd, offset, length, settings_.enable_sendfile, end, error);
    }
    ++writes_;
    return ok || client_failed(error) ? FileResult::kSent : FileResult::kFailed;
}

bool Response::send_iterable(PyObject* result) {
    Py_ssize_t block_size = 0;
    if (PyObject* filelike = file_wrapper_filelike(result, &block_size)) {
        if (!status_set_) {
            PyErr_SetString(PyExc_RuntimeError, "response has not been started");
            return false;
        }
        switch (send_file(filelike)) {
            case FileResult::kSent:
                return true;
            case FileResult::kFailed:
                return false;
            case FileResult::kNotAFile:
                break;
        }
    }
    const bool is_sequence = PyList_CheckExact(result) || PyTuple_CheckExact(result);
    Py_ssize_t items_left = is_sequence ? PySequence_Fast_GET_SIZE(result) : -1;
    Ref iterator = Ref::steal(PyObject_GetIter(result));
    if (!iterator) {
        return false;
    }
    while (Ref item = Ref::steal(PyIter_Next(iterator.get()))) {
        if (!PyBytes_Check(item.get())) {
            PyErr_Format(PyExc_TypeError,
                         "sequence of byte string values expected, value of type %.200s found",
                         Py_TYPE(item.get())->tp_name);
            return false;
        }
        auto length = static_cast<std::size_t>(PyBytes_GET_SIZE(item.get()));
        Pass pass = Pass::kFlush;
        if (is_sequence) {
            --items_left;
            bool complete = !content_length_ ||
                            sent_ + static_cast<std::int64_t>(length) >= *content_length_;
            pass = items_left == 0 && complete ? Pass::kEos : Pass::kNoFlush;
        }
        // PEP 3333: headers wait for the first non-empty block.
        if (length == 0 && pass != Pass::kEos) {
            continue;
        }
        if (!send_block(PyBytes_AS_STRING(item.get()), length, pass)) {
            return false;
        }
        if (content_length_ && sent_ >= *content_length_) {
            break;
        }
    }
    return !PyErr_Occurred();
}

bool Response::finish() {
    if (ended_) {
        return true;
    }
    if (!headers_sent_ && !commit_headers()) {
        return false;
    }
    // No body is owed to a HEAD request, nor with a 204 or a 304, whose Content-Length (if
    // any) describes the representation the client already has (RFC 9110 8.6).
    bool body_owed = !channel_.head_only() && status_ != 204 && status_ != 304;
    if (content_length_ && sent_ < *content_length_ && body_owed) {
        GilRelease release;
        channel_.log(APLOG_WARNING,
                     "WSGI0010: Response of WSGI script '" + settings_.script_filename +
                         "' shorter than its Content-Length (" + std::to_string(sent_) + " of " +
                         std::to_string(*content_length_) + " bytes); closing the connection.");
        channel_.abort();
        ended_ = true;
        return true;
    }
    ended_ = true;
    if (channel_.defer_last_block(nullptr, 0)) {
        return true;
    }
    std::string error;
    GilRelease release;
    channel_.finish(error);  // a client gone at the very end changes nothing
    return true;
}

void Response::abort() {
    ended_ = true;
    GilRelease release;
    channel_.abort();
}

// ---- the Python face: start_response and write ----

PyObject* adapter_start_response(PyObject* obj, PyObject* args, PyObject* kwargs) noexcept {
    auto* self = reinterpret_cast<AdapterObject*>(obj);
    if (self->response == nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() called after the request ended");
        return nullptr;
    }
    try {
        if (!self->response->start_response(args, kwargs)) {
            return nullptr;
        }
        if (RequestScope* scope = RequestScope::current()) {
            scope->response_started(args, kwargs);
        }
        return PyObject_GetAttrString(obj, "write");
    } catch (...) {
        PyErr_SetString(PyExc_RuntimeError, "internal error in start_response()");
        return nullptr;
    }
}

PyObject* adapter_write(PyObject* obj, PyObject* data) noexcept {
    auto* self = reinterpret_cast<AdapterObject*>(obj);
    if (self->response == nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "write() called after the request ended");
        return nullptr;
    }
    try {
        return self->response->write(data);
    } catch (...) {
        PyErr_SetString(PyExc_RuntimeError, "internal error in write()");
        return nullptr;
    }
}

PyMethodDef kAdapterMethods[] = {
    {"start_response", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(
                           adapter_start_response)),
     METH_VARARGS | METH_KEYWORDS, "start_response(status, response_headers, exc_info=None)"},
    {"write", adapter_write, METH_O, "write(data): send bytes of the response body now."},
    {nullptr, nullptr, 0, nullptr},
};

void adapter_dealloc(PyObject* obj) noexcept {
    PyTypeObject* type = Py_TYPE(obj);
    type->tp_free(obj);
    Py_DECREF(type);
}

PyType_Slot kAdapterSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(adapter_dealloc)},
    {Py_tp_methods, kAdapterMethods},
    {Py_tp_doc, const_cast<char*>("The response side of one request.")},
    {0, nullptr},
};

PyType_Spec kAdapterSpec = {"mod_wsgi.Adapter", sizeof(AdapterObject), 0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
                            kAdapterSlots};

// Logs the pending exception as the application's failure, with its traceback.
void log_application_error(Channel& channel, const RequestSettings& settings) {
    publish_request_exception();
    auto lines = python::take_exception_lines();
    GilRelease release;
    channel.log(APLOG_ERR, "WSGI0002: Exception occurred processing WSGI script '" +
                               settings.script_filename + "'.");
    for (const auto& line : lines) {
        channel.log(APLOG_ERR, line);
    }
}

// Calls result.close() if it has one (PEP 3333: always, whatever happened); an exception it
// raises is logged.
void close_iterable(Channel& channel, const RequestSettings& settings, PyObject* result) {
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result) ||
        !PyObject_HasAttrString(result, "close")) {
        return;
    }
    Ref outcome = Ref::steal(PyObject_CallMethod(result, "close", nullptr));
    if (!outcome) {
        log_application_error(channel, settings);
    }
}

// What request_finished and the metrics report of a request that ended with `status`.
RequestOutcome outcome_of(const Response& response, PyObject* input, int status) {
    RequestOutcome outcome;
    outcome.application_status = response.status();
    outcome.http_status = status == OK ? response.status() : status;
    InputCounts counts = input_counts(input);
    outcome.input_bytes = counts.bytes;
    outcome.input_reads = counts.reads;
    outcome.input_time = counts.time;
    outcome.output_bytes = response.sent();
    outcome.output_writes = response.writes();
    outcome.output_time = response.write_time();
    return outcome;
}

// The request's CONTENT_LENGTH from the environ, or -1 when it has none (a chunked body)
// or it is not a valid length.
std::int64_t declared_content_length(PyObject* environ) {
    PyObject* value = PyDict_GetItemString(environ, "CONTENT_LENGTH");
    Py_ssize_t size = 0;
    const char* text = value != nullptr && PyUnicode_Check(value)
                           ? PyUnicode_AsUTF8AndSize(value, &size)
                           : nullptr;
    if (text == nullptr) {
        PyErr_Clear();
        return -1;
    }
    return common::parse_content_length(std::string_view(text, static_cast<std::size_t>(size)))
        .value_or(-1);
}

}  // namespace

PyObject* create_adapter_type() { return PyType_FromSpec(&kAdapterSpec); }

int run_application(Channel& channel, const RequestSettings& settings, PyObject* application,
                    PyObject* environ, const EnvironFacts& facts, RequestScope& scope) {
    Ref input = Ref::steal(new_input(
        &channel, facts.body_within_content_length ? declared_content_length(environ) : -1));
    Ref errors = Ref::steal(new_log_stream(&channel, "wsgi.errors"));
    auto* adapter = PyObject_New(
        AdapterObject, reinterpret_cast<PyTypeObject*>(wsgi_state().adapter_type.get()));
    Ref adapter_ref = Ref::steal(reinterpret_cast<PyObject*>(adapter));
    if (!input || !errors || !adapter ||
        !add_wsgi_objects(environ, facts, input.get(), errors.get()) ||
        !scope.add_environ_keys(environ)) {
        log_application_error(channel, settings);
        expire_log_stream(errors.get());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    Response response(channel, settings);
    adapter->response = &response;
    Ref start_response = Ref::steal(PyObject_GetAttrString(adapter_ref.get(), "start_response"));

    int status = OK;
    bool failed = false;
    bool interrupted = false;  // mod_wsgi.RequestTimeout (interrupt-timeout) ended it
    // A request_started subscriber may wrap the application (mod_wsgi docs, "Subscribing to
    // Events").
    Ref chosen = scope.started(environ, application);
    Ref result = start_response ? Ref::steal(PyObject_CallFunctionObjArgs(
                                      chosen.get(), environ, start_response.get(), nullptr))
                                : Ref();
    if (!result || !response.send_iterable(result.get())) {
        failed = true;
    }
    if (failed) {
        interrupted = PyErr_ExceptionMatches(wsgi_state().request_timeout.get()) != 0;
        if (response.client_gone()) {
            auto lines = python::take_exception_lines();
            GilRelease release;
            channel.log(APLOG_INFO, "Client closed the connection while WSGI script '" +
                                        settings.script_filename + "' was responding.");
        } else {
            log_application_error(channel, settings);
        }
    }
    if (result) {
        // A close() that raises is logged and changes nothing: the response the application
        // produced goes out whole (as mod_wsgi does; PEP 3333 only asks that close() be
        // called).
        close_iterable(channel, settings, result.get());
    }
    if (!failed && !response.finish()) {
        log_application_error(channel, settings);
        failed = true;
    }
    if (failed) {
        if (response.headers_sent()) {
            response.abort();
        } else {
            int input_status = input_error_status(input.get());
            status = interrupted         ? HTTP_GATEWAY_TIME_OUT
                     : input_status != 0 ? input_status
                                         : HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    adapter->response = nullptr;
    expire_input(input.get());
    expire_log_stream(errors.get());
    scope.finished(outcome_of(response, input.get(), status));
    return status;
}

}  // namespace wsgi::wsgi
