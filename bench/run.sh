#!/usr/bin/env bash
# Runs the benchmark: our mod_wsgi (embedded and daemon) against Debian's mod_wsgi 4.9.4,
# Gunicorn (sync, gthread), uWSGI and Apache serving a static file, on 127.0.0.1.
#
#     bench/run.sh [--quick] [--module PATH] [other options of bench/bench.py]
#
# Installs the Debian packages it needs, builds build/mod_wsgi.so when needed (unless --module
# names another one), then runs bench/bench.py and bench/report.py with /usr/bin/python3.
# A full run takes about 25 minutes and rewrites docs/benchmarks.md and docs/benchmarks/;
# --quick (1 run of 1 s per point) writes to ${TMPDIR:-/tmp}/mod_wsgi-bench-<uid>/results.
# Never touches the system Apache service; only processes it started are signalled.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then
    exec /usr/bin/python3 "$repo/bench/bench.py" --help
fi

"$repo/scripts/install-deps.sh"

packages=(wrk libapache2-mod-wsgi-py3 gunicorn uwsgi uwsgi-plugin-python3 python3-waitress python3-matplotlib)
missing=()
for pkg in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    # Debian's mod_wsgi package enables itself (a2enmod wsgi) when installed. We load its .so by
    # path in a private Apache only, so undo that if it was not enabled before.
    was_enabled=no
    [[ -e /etc/apache2/mods-enabled/wsgi.load ]] && was_enabled=yes
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e "$policy" ]]; then
        # No service starts while apt runs (installing apache2 bits would start the system one).
        "${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        trap '"${sudo[@]}" rm -f "$policy"' EXIT
    fi
    echo "bench: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null
    if [[ $was_enabled == no && -e /etc/apache2/mods-enabled/wsgi.load ]]; then
        "${sudo[@]}" a2dismod -q wsgi
    fi
fi

module_given=no
for arg in "$@"; do
    case "$arg" in --module|--module=*) module_given=yes ;; esac
done
if [[ $module_given == no ]]; then
    if [[ ! -f "$repo/build/CMakeCache.txt" ]]; then
        cmake -S "$repo" -B "$repo/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo </dev/null
    fi
    cmake --build "$repo/build" -j "$(nproc)" --target mod_wsgi </dev/null
fi

exec /usr/bin/python3 "$repo/bench/bench.py" "$@"
