#!/usr/bin/env bash
# Prepares target/alpaca-venv with the pinned alpaca-py (the official Alpaca client) for the
# stream dialect test, and prints the venv's python. Installs only when the pin is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.44.0
VENV=target/alpaca-venv

if ! "$VENV/bin/python" -c "import alpaca, sys; sys.exit(alpaca.__version__ != '$VERSION')" \
    2>/dev/null; then
    printf 'alpaca-venv.sh: installing alpaca-py %s into %s\n' "$VERSION" "$VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "alpaca-py==$VERSION" >&2
fi
echo "$VENV/bin/python"
