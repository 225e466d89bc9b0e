#!/usr/bin/env bash
# Make sure Debian's `chromium` is installed: the HTML report's tests open the report in a real headless
# browser (tests/html_report.rs). A no-op when it is already there.
#
# Why a script: `make test` runs on a fresh machine with no standard input (.ci/run), so the browser must
# install itself, non-interactively. It comes from the distribution's package (reachable here, like every
# package registry), never from a browser download site.
#
# Environment:
#   TCHINFO_CHROMIUM   a Chromium (or Chrome) binary to use instead; nothing is installed
set -euo pipefail

die() { echo "ensure-chromium: $*" >&2; exit 1; }

if [ -n "${TCHINFO_CHROMIUM:-}" ]; then
    [ -x "$TCHINFO_CHROMIUM" ] || die "TCHINFO_CHROMIUM=$TCHINFO_CHROMIUM is not an executable file"
    exit 0
fi
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
    die "chromium is missing and this is not a Debian-like system: install Chromium, or set TCHINFO_CHROMIUM"
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    die "chromium is missing and installing it needs root: run 'apt-get install chromium' as root, or set TCHINFO_CHROMIUM"
fi

echo "ensure-chromium: installing Debian's chromium for the HTML report's browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
# Other users of the machine may hold the package lock for a while: wait for it rather than fail.
apt_get=("${as_root[@]}" apt-get -o DPkg::Lock::Timeout=600 -q -y)
"${apt_get[@]}" update >/dev/null
"${apt_get[@]}" install --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1 || die "apt-get finished but no chromium is on PATH"
