// GoogleTest entry point: one Python initialisation for the whole binary (STYLE.md, Tests).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "python/runtime.hpp"

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    auto error = wsgi::python::initialize({});
    if (error) {
        fprintf(stderr, "Python initialisation failed: %s\n", error->c_str());
        return 1;
    }
    int result = RUN_ALL_TESTS();
    wsgi::python::finalize(std::chrono::seconds(10), [] { std::abort(); });
    return result;
}
