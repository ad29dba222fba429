#include "wsgi/script.hpp"

#include <apr_md5.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "apache/log.hpp"
#include "python/error.hpp"
#include "python/gil.hpp"
#include "wsgi/adapter.hpp"
#include "wsgi/events.hpp"

namespace wsgi::wsgi {
namespace {

using python::GilRelease;
using python::Ref;

void log_script_error(Channel& channel, const std::string& headline) {
    auto lines = python::take_exception_lines();
    GilRelease release;
    channel.log(APLOG_ERR, headline);
    for (const auto& line : lines) {
        channel.log(APLOG_ERR, line);
    }
}

void log_info(Channel& channel, const std::string& line) {
    GilRelease release;
    channel.log(APLOG_INFO, line);
}

// The __mtime__ a script module was loaded with (set by import_script), or nullopt.
std::optional<long long> loaded_mtime(PyObject* module) {
    PyObject* mtime = PyDict_GetItemString(PyModule_GetDict(module), "__mtime__");
    if (mtime == nullptr) {
        return std::nullopt;
    }
    long long loaded = PyLong_AsLongLong(mtime);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return std::nullopt;
    }
    return loaded;
}

// True when the loaded module is current: same mtime and reload_required() not asking.
bool is_current(PyObject* module, const ScriptLoad& script, Channel& channel) {
    // Module dict lookups: a missing attribute costs no exception on this per-request path.
    if (!PyModule_Check(module)) {
        return true;  // replaced in sys.modules by the application: leave it alone
    }
    PyObject* globals = PyModule_GetDict(module);
    auto loaded = loaded_mtime(module);
    if (!loaded || *loaded != script.mtime) {
        return false;
    }
    Ref hook = Ref::borrow(PyDict_GetItemString(globals, "reload_required"));
    if (!hook) {
        return true;
    }
    Ref resource = Ref::steal(PyUnicode_DecodeFSDefault(script.path.c_str()));
    Ref answer = resource ? Ref::steal(PyObject_CallOneArg(hook.get(), resource.get())) : Ref();
    if (!answer) {
        // A raising hook does not force a reload (mod_wsgi behaviour).
        log_script_error(channel, "WSGI0004: reload_required() of WSGI script '" + script.path +
                                "' raised an exception.");
        return true;
    }
    int truth = PyObject_IsTrue(answer.get());
    if (truth < 0) {
        PyErr_Clear();
        return true;
    }
    return truth == 0;
}

bool read_file(const std::string& path, std::string& contents) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return false;
    }
    std::ostringstream buffer;
    buffer << file.rdbuf();
    contents = buffer.str();
    return !file.bad();
}

Ref import_script(const ScriptLoad& script, Channel& channel) {
    std::string source;
    bool read_ok;
    {
        GilRelease release;
        read_ok = read_file(script.path, source);
    }
    if (!read_ok) {
        GilRelease release;
        channel.log(APLOG_ERR, "WSGI0005: Could not read WSGI script file '" + script.path + "'.");
        return Ref();
    }
    log_info(channel, "Loading WSGI script '" + script.path + "' as module '" +
                          script.module_name + "'.");
    Ref code = Ref::steal(Py_CompileStringExFlags(source.c_str(), script.path.c_str(),
                                                  Py_file_input, nullptr, -1));
    Ref name = Ref::steal(PyUnicode_FromString(script.module_name.c_str()));
    Ref path = Ref::steal(PyUnicode_DecodeFSDefault(script.path.c_str()));
    Ref module = code && name && path ? Ref::steal(PyImport_ExecCodeModuleObject(
                                            name.get(), code.get(), path.get(), nullptr))
                                      : Ref();
    if (!module) {
        log_script_error(channel, "WSGI0003: Failed to exec Python script file '" + script.path +
                                "'.");
        return Ref();
    }
    Ref mtime = Ref::steal(PyLong_FromLongLong(script.mtime));
    if (!mtime || PyObject_SetAttrString(module.get(), "__mtime__", mtime.get()) != 0) {
        log_script_error(channel, "WSGI0003: Failed to record the modification time of '" +
                                script.path + "'.");
        return Ref();
    }
    return module;
}

// The script's module from sys.modules (new reference) if loaded and current.
Ref current_module(const ScriptLoad& script, Channel& channel) {
    PyObject* modules = PyImport_GetModuleDict();
    PyObject* module = PyDict_GetItemString(modules, script.module_name.c_str());
    if (module == nullptr) {
        return Ref();
    }
    Ref held = Ref::borrow(module);
    if (script.reloading && !is_current(module, script, channel)) {
        return Ref();
    }
    return held;
}

}  // namespace

std::string script_module_name(const std::string& path, bool case_sensitive) {
    std::string key = path;
    if (!case_sensitive) {
        for (char& c : key) {
            if (c >= 'A' && c <= 'Z') {
                c = static_cast<char>(c - 'A' + 'a');
            }
        }
    }
    unsigned char digest[APR_MD5_DIGESTSIZE];
    apr_md5(digest, key.data(), key.size());
    static constexpr char kHex[] = "0123456789abcdef";
    std::string name = "_mod_wsgi_";
    for (unsigned char byte : digest) {
        name.push_back(kHex[byte >> 4]);
        name.push_back(kHex[byte & 0xf]);
    }
    return name;
}

namespace {

std::atomic<LoadObserver> g_load_observer{nullptr};

Ref observed(Ref module) {
    if (LoadObserver observer = g_load_observer.load(std::memory_order_relaxed)) {
        observer(static_cast<bool>(module));
    }
    return module;
}

}  // namespace

void set_load_observer(LoadObserver observer) { g_load_observer = observer; }

Ref load_script(python::Interpreter& interpreter, const ScriptLoad& script, Channel& channel) {
    if (Ref module = current_module(script, channel)) {
        return observed(std::move(module));
    }
    std::unique_lock guard(interpreter.load_mutex(), std::defer_lock);
    {
        GilRelease release;
        guard.lock();
    }
    // Another thread may have loaded it while this one waited.
    if (Ref module = current_module(script, channel)) {
        return observed(std::move(module));
    }
    PyObject* modules = PyImport_GetModuleDict();
    if (PyDict_GetItemString(modules, script.module_name.c_str()) != nullptr) {
        log_info(channel, "Reloading WSGI script '" + script.path + "'.");
        if (PyDict_DelItemString(modules, script.module_name.c_str()) != 0) {
            PyErr_Clear();
        }
    }
    return observed(import_script(script, channel));
}

bool script_changed(const ScriptLoad& script) {
    PyObject* module = PyDict_GetItemString(PyImport_GetModuleDict(), script.module_name.c_str());
    if (module == nullptr || !PyModule_Check(module)) {
        return false;
    }
    auto loaded = loaded_mtime(module);
    return loaded && *loaded != script.mtime;
}

int run_script(python::Interpreter& interpreter, const ScriptLoad& script,
               const RequestSettings& settings, Channel& channel, PyObject* environ,
               const EnvironFacts& facts) {
    // From here, so that mod_wsgi.request_data() works in the code that loading the script
    // runs at the first request, as with mod_wsgi.
    RequestScope scope(channel, environ, facts);
    Ref module = load_script(interpreter, script, channel);
    if (!module) {
        return 500;
    }
    Ref application = Ref::steal(
        PyObject_GetAttrString(module.get(), settings.callable_object.c_str()));
    if (!application) {
        PyErr_Clear();
        GilRelease release;
        channel.log(APLOG_ERR, "WSGI0006: Target WSGI script '" + script.path +
                                   "' does not contain WSGI application '" +
                                   settings.callable_object + "'.");
        return 500;
    }
    return run_application(channel, settings, application.get(), environ, facts, scope);
}

}  // namespace wsgi::wsgi
