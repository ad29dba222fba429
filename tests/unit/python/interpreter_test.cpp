#include "python/interpreter.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "python/error.hpp"
#include "python/gil.hpp"
#include "python/ref.hpp"
#include "python/runtime.hpp"

namespace wsgi::python {
namespace {

// Runs `code` in `interpreter` and returns the value of the expression `result`.
std::string run_in(Interpreter& interpreter, const char* code, const char* result) {
    InterpreterLock lock(interpreter);
    Ref globals = Ref::borrow(PyModule_GetDict(PyImport_AddModule("__main__")));
    Ref ran = Ref::steal(PyRun_String(code, Py_file_input, globals.get(), globals.get()));
    EXPECT_TRUE(ran) << "running: " << code;
    Ref value = Ref::steal(PyRun_String(result, Py_eval_input, globals.get(), globals.get()));
    Ref text = value ? Ref::steal(PyObject_Str(value.get())) : Ref();
    std::string out = text ? PyUnicode_AsUTF8(text.get()) : "<error>";
    PyErr_Clear();
    return out;
}

TEST(Interpreters, GlobalGroupIsTheMainInterpreter) {
    std::string error;
    Interpreters& all = interpreters();
    EXPECT_EQ(all.for_application_group("", 8, error), &all.main());
    EXPECT_EQ(all.main().name(), "");
    EXPECT_TRUE(all.main().is_main());
}

TEST(Interpreters, EachGroupGetsItsOwnSubInterpreter) {
    std::string error;
    Interpreters& all = interpreters();
    Interpreter* a = all.for_application_group("group-a", 8, error);
    Interpreter* b = all.for_application_group("group-b", 8, error);
    ASSERT_NE(a, nullptr) << error;
    ASSERT_NE(b, nullptr) << error;
    EXPECT_NE(a, b);
    EXPECT_NE(a, &all.main());
    EXPECT_FALSE(a->is_main());
    EXPECT_EQ(a->name(), "group-a");
    EXPECT_EQ(all.for_application_group("group-a", 8, error), a);
    EXPECT_NE(a->state(), all.main().state());

    // Globals and sys.modules are per interpreter.
    EXPECT_EQ(run_in(*a, "import sys\nmarker = 'a'\nsys.modules['only_in_a'] = sys", "marker"), "a");
    EXPECT_EQ(run_in(*b, "marker = 'b'", "marker"), "b");
    EXPECT_EQ(run_in(*a, "pass", "marker"), "a");
    EXPECT_EQ(run_in(*b, "import sys", "'only_in_a' in sys.modules"), "False");
    EXPECT_EQ(run_in(*a, "import sys", "'only_in_a' in sys.modules"), "True");
}

TEST(Interpreters, LimitRefusesNewGroups) {
    std::string error;
    Interpreters& all = interpreters();
    std::size_t count = all.sub_interpreter_count();
    EXPECT_EQ(all.for_application_group("one-too-many", count, error), nullptr);
    EXPECT_NE(error.find("limit"), std::string::npos) << error;
    EXPECT_EQ(all.sub_interpreter_count(), count);
}

TEST(Interpreters, SubInterpreterUsableFromAnotherThread) {
    std::string error;
    Interpreter* a = interpreters().for_application_group("group-a", 8, error);
    ASSERT_NE(a, nullptr) << error;
    EXPECT_EQ(run_in(*a, "marker = 'set on the main thread'", "marker"), "set on the main thread");
    std::string seen;
    std::thread worker([&] { seen = run_in(*a, "pass", "marker"); });
    worker.join();
    EXPECT_EQ(seen, "set on the main thread");
}

TEST(InterpreterLock, AttachesOtherThreadsWithCachedThreadState) {
    Interpreter& main = interpreters().main();
    PyThreadState* first = nullptr;
    PyThreadState* second = nullptr;
    long value = 0;
    std::thread worker([&] {
        {
            InterpreterLock lock(main);
            first = PyThreadState_Get();
            Ref result = Ref::steal(PyRun_String("6 * 7", Py_eval_input,
                                                 PyEval_GetBuiltins(), PyEval_GetBuiltins()));
            ASSERT_TRUE(result);
            value = PyLong_AsLong(result.get());
        }
        {
            InterpreterLock lock(main);
            second = PyThreadState_Get();
            // PyGILState finds the same thread state, so C extensions see one per thread.
            EXPECT_EQ(PyGILState_GetThisThreadState(), second);
        }
    });
    worker.join();
    EXPECT_EQ(value, 42);
    EXPECT_NE(first, nullptr);
    EXPECT_EQ(first, second);
}

TEST(InterpreterLock, GilReleaseLetsAnotherThreadRun) {
    Interpreter& main = interpreters().main();
    InterpreterLock lock(main);
    bool ran = false;
    {
        GilRelease release;
        std::thread other([&] {
            InterpreterLock inner(main);
            ran = true;
        });
        other.join();
    }
    EXPECT_TRUE(ran);
}

TEST(ExceptionLines, FormatsTracebackAndClears) {
    InterpreterLock lock(interpreters().main());
    Ref globals = Ref::steal(PyDict_New());
    PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins());
    Ref result = Ref::steal(PyRun_String("def f():\n    raise ValueError('boom')\nf()\n",
                                         Py_file_input, globals.get(), globals.get()));
    ASSERT_FALSE(result);
    auto lines = take_exception_lines();
    EXPECT_FALSE(PyErr_Occurred());
    ASSERT_GE(lines.size(), 3u);
    EXPECT_EQ(lines.front(), "Traceback (most recent call last):");
    EXPECT_EQ(lines.back(), "ValueError: boom");
    EXPECT_TRUE(take_exception_lines().empty());
}

}  // namespace
}  // namespace wsgi::python
