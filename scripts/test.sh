#!/usr/bin/env bash
# The one test command: installs the Debian packages, builds mod_wsgi.so
# (RelWithDebInfo) into build/, runs the GoogleTest unit tests through ctest
# and the integration tests (pytest driving a private Apache), then a core
# subset of them against an ASan + UBSan build of the module in build-asan/.
#
# Exits non-zero if any step fails, including a pytest run that collected no
# test at all. Needs no stdin, so CI can run it as root.
set -euo pipefail

cd "$(dirname "$0")/.."

# Debian's own tools first: a pyenv or other python3 earlier on PATH has
# neither Flask/Django nor the headers the module was built against.
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
python=/usr/bin/python3
jobs=${JOBS:-$(nproc)}

scripts/install-deps.sh

echo "== configure and build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo </dev/null
cmake --build build -j "$jobs" </dev/null

echo "== unit tests"
ctest --test-dir build --output-on-failure --no-tests=error </dev/null

echo "== wire protocol fuzzing (libFuzzer, bounded)"
mkdir -p build/fuzz/corpus
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Isrc tests/fuzz/protocol_fuzz.cpp src/daemon/protocol.cpp src/daemon/request_meta.cpp \
    -o build/fuzz/protocol_fuzz </dev/null
build/fuzz/protocol_fuzz -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 \
    build/fuzz/corpus </dev/null 2>&1 | tail -n 12 || { echo "test.sh: fuzzing failed" >&2; exit 1; }

echo "== integration tests"
status=0
"$python" -m pytest tests/integration -q -p no:cacheprovider </dev/null || status=$?
if [[ $status -eq 5 ]]; then
    echo "test.sh: pytest collected no integration tests" >&2
fi

# The module built with ASan + UBSan (only the mod_wsgi target) and a core subset of the
# integration tests against it: responses, input (and the client connection read through the
# module's socket bucket under LimitRequestBody, mod_reqtimeout and HTTP/2), start_response,
# daemon mode and the daemon fault tests. httpd alone gets the sanitizer runtime preloaded
# (MOD_WSGI_TEST_PRELOAD, see tests/integration/conftest.py); a sanitizer report in an error
# log fails the test. The large upload/download tests are left out: they check that resident
# memory stays flat, which ASan's quarantine of freed memory defeats.
echo "== integration tests against an ASan + UBSan build (core subset, bounded)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" </dev/null
cmake --build build-asan -j "$jobs" --target mod_wsgi </dev/null
asan_status=0
MOD_WSGI_SO="$PWD/build-asan/mod_wsgi.so" \
    MOD_WSGI_TEST_PRELOAD="$(c++ -print-file-name=libasan.so)" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    timeout "${SANITIZER_TEST_SECONDS:-600}" "$python" -m pytest -q -p no:cacheprovider \
    tests/integration/test_response.py tests/integration/test_input.py \
    tests/integration/test_connection_input.py \
    tests/integration/test_start_response.py tests/integration/test_daemon_mode.py \
    tests/integration/test_daemon_faults.py -k "not (large_download or large_upload)" \
    </dev/null || asan_status=$?
if [[ $asan_status -ne 0 ]]; then
    echo "test.sh: integration tests against the sanitizer build failed (status $asan_status)" >&2
fi
if [[ $status -ne 0 ]]; then
    exit "$status"
fi
exit "$asan_status"
