#!/usr/bin/env bash
# Installs headless Chromium (Debian's package) for the browser test, when missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
sudo=""
[[ $EUID -eq 0 ]] || sudo=sudo
echo "browser-deps: installing chromium" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
