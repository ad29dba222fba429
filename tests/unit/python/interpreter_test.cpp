#include "python/interpreter.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "python/error.hpp"
#include "python/gil.hpp"
#include "python/ref.hpp"
#include "python/runtime.hpp"

namespace wsgi::python {
namespace {

TEST(Interpreters, EveryGroupMapsToMainForNow) {
    Interpreters& all = interpreters();
    EXPECT_EQ(&all.for_application_group(""), &all.main());
    EXPECT_EQ(all.main().name(), "");
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
