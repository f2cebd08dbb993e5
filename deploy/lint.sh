#!/usr/bin/env bash
# Checks deploy/template.yaml with cfn-lint, installed into a private venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.data/cfn-lint-venv
if [[ ! -x $venv/bin/cfn-lint ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cfn-lint>=1,<2"
fi
"$venv/bin/cfn-lint" --version
"$venv/bin/cfn-lint" deploy/template.yaml
echo "cfn-lint: deploy/template.yaml passes"
