#!/usr/bin/env bash
# The one test command: installs the Debian packages, builds mod_wsgi.so
# (RelWithDebInfo) into build/, runs the GoogleTest unit tests through ctest
# and the integration tests (pytest driving a private Apache).
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
exit "$status"
