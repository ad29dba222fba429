#include "python/error.hpp"

#include "python/ref.hpp"

#include <string_view>

namespace wsgi::python {
namespace {

void split_lines(std::string_view text, std::vector<std::string>& out) {
    while (!text.empty()) {
        auto newline = text.find('\n');
        out.emplace_back(text.substr(0, newline));
        if (newline == std::string_view::npos) {
            break;
        }
        text.remove_prefix(newline + 1);
    }
}

std::string as_utf8(PyObject* text) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(text, &size);
    if (data == nullptr) {
        PyErr_Clear();
        return "<unprintable>";
    }
    return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

std::vector<std::string> take_exception_lines() {
    std::vector<std::string> lines;
    if (!PyErr_Occurred()) {
        return lines;
    }
    PyObject* type = nullptr;
    PyObject* value = nullptr;
    PyObject* traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    Ref type_ref = Ref::steal(type);
    Ref value_ref = Ref::steal(value);
    Ref traceback_ref = Ref::steal(traceback);
    if (value_ref && traceback_ref) {
        PyException_SetTraceback(value_ref.get(), traceback_ref.get());
    }

    Ref module = Ref::steal(PyImport_ImportModule("traceback"));
    Ref formatted;
    if (module) {
        formatted = Ref::steal(PyObject_CallMethod(module.get(), "format_exception", "OOO",
                                                   type ? type : Py_None,
                                                   value ? value : Py_None,
                                                   traceback ? traceback : Py_None));
    }
    if (formatted && PyList_Check(formatted.get())) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(formatted.get()); ++i) {
            split_lines(as_utf8(PyList_GET_ITEM(formatted.get(), i)), lines);
        }
    } else {
        PyErr_Clear();
        Ref text = Ref::steal(value ? PyObject_Str(value) : nullptr);
        lines.push_back(text ? as_utf8(text.get()) : std::string("<unknown exception>"));
        PyErr_Clear();
    }
    return lines;
}

void set_error(PyObject* type, const std::string& message) {
    PyErr_SetString(type, message.c_str());
}

std::vector<std::string> current_stack_lines() {
    std::vector<std::string> lines;
    Ref traceback = Ref::steal(PyImport_ImportModule("traceback"));
    Ref entries = traceback
                      ? Ref::steal(PyObject_CallMethod(traceback.get(), "format_stack", nullptr))
                      : Ref();
    Ref empty = Ref::steal(PyUnicode_FromString(""));
    Ref text = entries && empty ? Ref::steal(PyUnicode_Join(empty.get(), entries.get())) : Ref();
    const char* utf8 = text ? PyUnicode_AsUTF8(text.get()) : nullptr;
    if (utf8 == nullptr) {
        PyErr_Clear();
        return lines;
    }
    std::string_view rest(utf8);
    while (!rest.empty()) {
        auto newline = rest.find('\n');
        std::string_view line = rest.substr(0, newline);
        if (!line.empty()) {
            lines.emplace_back(line);
        }
        rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    }
    return lines;
}

}  // namespace wsgi::python
