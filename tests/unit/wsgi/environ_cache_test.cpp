#include "wsgi/environ_cache.hpp"

#include <gtest/gtest.h>

#include <string>

#include "python/interpreter.hpp"
#include "python/ref.hpp"
#include "python/runtime.hpp"

namespace wsgi::wsgi {
namespace {

using python::Ref;

// Holds the main interpreter's GIL for a test.
class EnvironCacheTest : public testing::Test {
protected:
    EnvironCacheTest() : lock_(python::interpreters().main()) {}

    // environ[name] (borrowed), or nullptr.
    PyObject* get(const char* name) { return PyDict_GetItemString(environ_.get(), name); }

    python::InterpreterLock lock_;
    Ref environ_ = Ref::steal(PyDict_New());
};

TEST_F(EnvironCacheTest, FixedNamesAreInternedOnceAndValuesReusedWhileTheyRepeat) {
    EnvironCache cache(2);
    ASSERT_TRUE(cache.set(environ_.get(), 0, "SERVER_NAME", "example.com"));
    PyObject* first_value = get("SERVER_NAME");
    PyObject* first_key = cache.key(0, "SERVER_NAME");
    ASSERT_NE(first_value, nullptr);
    EXPECT_TRUE(PyUnicode_CHECK_INTERNED(first_key));

    Ref next = Ref::steal(PyDict_New());
    ASSERT_TRUE(cache.set(next.get(), 0, "SERVER_NAME", "example.com"));
    EXPECT_EQ(PyDict_GetItemString(next.get(), "SERVER_NAME"), first_value);
    EXPECT_EQ(cache.key(0, "SERVER_NAME"), first_key);

    ASSERT_TRUE(cache.set(next.get(), 0, "SERVER_NAME", "example.org"));
    PyObject* changed = PyDict_GetItemString(next.get(), "SERVER_NAME");
    EXPECT_NE(changed, first_value);
    EXPECT_STREQ(PyUnicode_AsUTF8(changed), "example.org");
    // The earlier environ keeps its own value.
    EXPECT_STREQ(PyUnicode_AsUTF8(first_value), "example.com");
}

TEST_F(EnvironCacheTest, ValuesAreLatin1AndPrefixesAreNotTakenForTheSameText) {
    EnvironCache cache(1);
    ASSERT_TRUE(cache.set(environ_.get(), 0, "QUERY_STRING", "caf\xe9"));
    EXPECT_STREQ(PyUnicode_AsUTF8(get("QUERY_STRING")), "caf\xc3\xa9");
    ASSERT_TRUE(cache.set(environ_.get(), 0, "QUERY_STRING", "caf"));
    EXPECT_STREQ(PyUnicode_AsUTF8(get("QUERY_STRING")), "caf");
    ASSERT_TRUE(cache.set(environ_.get(), 0, "QUERY_STRING", ""));
    EXPECT_EQ(PyUnicode_GET_LENGTH(get("QUERY_STRING")), 0);
    ASSERT_TRUE(cache.set(environ_.get(), 0, "QUERY_STRING", "caf\xe9"));
    EXPECT_STREQ(PyUnicode_AsUTF8(get("QUERY_STRING")), "caf\xc3\xa9");
}

TEST_F(EnvironCacheTest, OtherNamesAreLookedUpAndBounded) {
    EnvironCache cache(0);
    ASSERT_TRUE(cache.set(environ_.get(), EnvironCache::kNoSlot, "HTTP_HOST", "a"));
    PyObject* value = get("HTTP_HOST");
    Ref next = Ref::steal(PyDict_New());
    ASSERT_TRUE(cache.set(next.get(), EnvironCache::kNoSlot, "HTTP_HOST", "a"));
    EXPECT_EQ(PyDict_GetItemString(next.get(), "HTTP_HOST"), value);
    EXPECT_EQ(cache.size(), 1u);

    for (std::size_t i = 0; i < EnvironCache::kMaxNames + 10; ++i) {
        std::string name = "HTTP_X_" + std::to_string(i);
        ASSERT_TRUE(cache.set(environ_.get(), EnvironCache::kNoSlot, name, "v"));
        ASSERT_NE(get(name.c_str()), nullptr) << name;
    }
    EXPECT_EQ(cache.size(), EnvironCache::kMaxNames);
}

TEST_F(EnvironCacheTest, LongValuesAreNotKept) {
    EnvironCache cache(1);
    std::string long_value(EnvironCache::kMaxValueLength + 1, 'x');
    ASSERT_TRUE(cache.set(environ_.get(), 0, "HTTP_COOKIE", long_value));
    PyObject* first = get("HTTP_COOKIE");
    Ref next = Ref::steal(PyDict_New());
    ASSERT_TRUE(cache.set(next.get(), 0, "HTTP_COOKIE", long_value));
    EXPECT_NE(PyDict_GetItemString(next.get(), "HTTP_COOKIE"), first);
}

TEST_F(EnvironCacheTest, ANameThatIsNotUtf8FailsWithAnException) {
    EnvironCache cache(0);
    EXPECT_FALSE(cache.set(environ_.get(), EnvironCache::kNoSlot, "BAD\xff", "v"));
    EXPECT_TRUE(PyErr_Occurred());
    PyErr_Clear();
}

TEST_F(EnvironCacheTest, ConstantsAreMadeOnce) {
    EnvironCache cache(1);
    int made = 0;
    auto make = [&made] {
        ++made;
        return Py_BuildValue("(ii)", 1, 0);
    };
    ASSERT_TRUE(cache.set_constant(environ_.get(), 0, "wsgi.version", make));
    Ref next = Ref::steal(PyDict_New());
    ASSERT_TRUE(cache.set_constant(next.get(), 0, "wsgi.version", make));
    EXPECT_EQ(made, 1);
    EXPECT_EQ(get("wsgi.version"), PyDict_GetItemString(next.get(), "wsgi.version"));
}

}  // namespace
}  // namespace wsgi::wsgi
