#!/usr/bin/env bash
# Prepares target/py-clients-venv with the official Alpaca and Polygon (Massive) clients and
# the DataFrame readers (pyarrow, polars, DuckDB) pinned in tests/py/requirements.txt, and
# prints the venv's python. Idempotent and safe to
# run from parallel tests: a lock serialises the install, and a stamp holding the
# requirements' checksum says whether the venv is current.
# Needs python3 with venv, and PyPI the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/py-clients-venv
REQUIREMENTS=tests/py/requirements.txt
STAMP=$VENV/.requirements.sha256

mkdir -p target
exec 9>target/py-clients-venv.lock
flock 9
want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || $(cat "$STAMP" 2>/dev/null) != "$want" ]]; then
    printf 'py-clients.sh: installing %s into %s\n' "$REQUIREMENTS" "$VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" >"$STAMP"
fi
echo "$PWD/$VENV/bin/python"
