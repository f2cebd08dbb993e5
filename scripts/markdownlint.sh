#!/usr/bin/env bash
# Lints every Markdown file with markdownlint-cli2 (pinned), installed from npm into
# target/markdownlint on first use. Rules: .markdownlint-cli2.jsonc.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.24.1
PREFIX=target/markdownlint
BIN=$PREFIX/node_modules/.bin/markdownlint-cli2
if ! command -v npm >/dev/null; then
    apt-get install -y --no-install-recommends npm >/dev/null
fi
if [ ! -x "$BIN" ] || ! "$BIN" --help 2>/dev/null | head -n 1 | grep -q "v$VERSION"; then
    mkdir -p "$PREFIX"
    npm install --prefix "$PREFIX" --no-audit --no-fund --silent "markdownlint-cli2@$VERSION"
fi
exec "$BIN"
