#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build mod_wsgi.so and run its tests.
#
# Idempotent: when every package is already installed it changes nothing and
# touches no network. Otherwise it runs `apt-get update` once and installs only
# what is missing. Works as root (CI) or through sudo, with no stdin.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    apache2 apache2-dev apache2-utils python3-dev
    libgtest-dev googletest libfmt-dev libcli11-dev clang libclang-rt-14-dev
    python3-pytest python3-requests python3-flask python3-django
    curl iproute2 openssl procps
)

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} Debian packages already installed"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"

# Installing apache2 would start the system Apache service through
# invoke-rc.d. The tests run their own private Apache and must never touch
# the system one, so forbid service starts while apt runs, unless the machine
# already has a policy (containers usually do).
policy=/usr/sbin/policy-rc.d
if [[ ! -e "$policy" ]]; then
    "${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
