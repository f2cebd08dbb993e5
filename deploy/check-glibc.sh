#!/usr/bin/env bash
# Fails when a binary needs a glibc newer than Amazon Linux 2023's (2.34), the base of the
# provided.al2023 Lambda runtime. Usage: deploy/check-glibc.sh BINARY
set -euo pipefail
binary=${1:?usage: check-glibc.sh BINARY}
limit=2.34

versions=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV)
newest=$(tail -n1 <<<"$versions")
echo "glibc symbol versions needed by $binary: $(tr '\n' ' ' <<<"$versions")"
if [[ $(printf '%s\n%s\n' "$limit" "$newest" | sort -V | tail -n1) != "$limit" ]]; then
    echo "error: needs GLIBC_$newest, newer than Amazon Linux 2023's $limit:" >&2
    objdump -T "$binary" | grep -E "GLIBC_${newest//./\\.}([^0-9.]|$)" >&2
    exit 1
fi
echo "ok: newest is GLIBC_$newest (limit $limit)"
