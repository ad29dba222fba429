#!/usr/bin/env bash
# Serves a WSGI script through Apache with this repository's mod_wsgi.so, in
# the foreground, on 127.0.0.1 (embedded mode, mpm_event). Ctrl-C stops it.
#
#     scripts/serve.sh [--port N] [--app FILE]
#
# Installs missing Debian packages, builds build/mod_wsgi.so when needed and
# writes a private ServerRoot (config, logs, pid file) under
# ${TMPDIR:-/tmp}/mod_wsgi-serve-<uid>. The system Apache is never touched.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

usage() {
    echo "usage: $0 [--port N] [--app FILE]" >&2
    echo "  --port N    port on 127.0.0.1 to listen on (default 8000)" >&2
    echo "  --app FILE  WSGI script to serve at / (default examples/hello.wsgi)" >&2
    exit 2
}

port=8000
app="$repo/examples/hello.wsgi"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --port) [[ $# -ge 2 ]] || usage; port=$2; shift 2 ;;
        --port=*) port=${1#--port=}; shift ;;
        --app) [[ $# -ge 2 ]] || usage; app=$2; shift 2 ;;
        --app=*) app=${1#--app=}; shift ;;
        -h|--help) usage ;;
        *) echo "$0: unknown argument: $1" >&2; usage ;;
    esac
done

if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    echo "$0: --port needs a number from 1 to 65535, not '$port'" >&2
    exit 2
fi
if [[ ! -f "$app" ]]; then
    echo "$0: no such WSGI script: $app" >&2
    exit 2
fi
app=$(realpath "$app")

"$repo/scripts/install-deps.sh"

# Build only what changed; configure the first time.
if [[ ! -f "$repo/build/CMakeCache.txt" ]]; then
    cmake -S "$repo" -B "$repo/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo </dev/null
fi
cmake --build "$repo/build" -j "$(nproc)" --target mod_wsgi </dev/null
module="$repo/build/mod_wsgi.so"
[[ -f "$module" ]] || { echo "$0: build did not produce $module" >&2; exit 1; }

# A fixed, per-user ServerRoot so the logs are easy to find. Refuse one that
# someone else made (or a symlink) in a shared temporary directory.
root="${TMPDIR:-/tmp}/mod_wsgi-serve-$(id -u)"
mkdir -p -m 755 "$root"
if [[ -L "$root" || ! -O "$root" ]]; then
    echo "$0: $root is not a directory owned by $(id -un); remove it" >&2
    exit 1
fi
mkdir -p "$root/logs" "$root/run"
pidfile="$root/run/httpd.pid"
if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$0: already serving from $root (pid $(cat "$pidfile"))" >&2
    exit 1
fi
rm -f "$pidfile"

# As root, Apache's children run as www-data: they must be able to read the
# script. When its folder is private (say under /root), serve a copy instead.
user_lines=""
if [[ $(id -u) -eq 0 ]]; then
    user_lines=$'User www-data\nGroup www-data'
    if ! runuser -u www-data -- test -r "$app"; then
        mkdir -p -m 755 "$root/app"
        install -m 644 "$app" "$root/app/"
        echo "serve.sh: www-data cannot read $app; serving a copy from $root/app" >&2
        app="$root/app/$(basename "$app")"
    fi
fi
app_dir=$(dirname "$app")

conf="$root/httpd.conf"
cat >"$conf" <<CONF
# Written by scripts/serve.sh; rewritten on every run.
ServerRoot "$root"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
DefaultRuntimeDir "$root/run"
PidFile "$pidfile"
$user_lines

LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule wsgi_module "$module"

ErrorLog "$root/logs/error.log"
LogLevel warn
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog "$root/logs/access.log" common

<Directory />
    AllowOverride None
    Require all denied
</Directory>

WSGIScriptAlias / "$app"
<Directory "$app_dir">
    Require all granted
</Directory>
CONF
chmod 644 "$conf"

echo "serve.sh: serving $app"
echo "serve.sh: http://127.0.0.1:$port/"
echo "serve.sh: config $conf, error log $root/logs/error.log; Ctrl-C stops"
exec apache2 -f "$conf" -DFOREGROUND
