#!/usr/bin/env bash
# Builds the Lambda zip: a plain release build, renamed `bootstrap` (what provided.al2023
# runs), stripped, and zipped into target/lambda/tsapi.zip for deploy/template.yaml.
#
#   deploy/package.sh                  x86_64, from `cargo build --release`
#   TSAPI_TARGET=aarch64-unknown-linux-gnu deploy/package.sh
#                                      arm64 (needs that target and its linker installed)
#   TSAPI_LAMBDA_CA_FILE=global-bundle.pem deploy/package.sh
#                                      also ship a CA bundle as rds-ca.pem (set the
#                                      template's DbCaFile to /var/task/rds-ca.pem)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${TSAPI_TARGET:-}
if [[ -n $target ]]; then
    cargo build --release --locked --target "$target"
    binary=target/$target/release/tsapi
else
    cargo build --release --locked
    binary=target/release/tsapi
fi
bash deploy/check-glibc.sh "$binary"

stage=target/lambda/bootstrap-dir
rm -rf "$stage" target/lambda/tsapi.zip
mkdir -p "$stage"
strip -o "$stage/bootstrap" "$binary" 2>/dev/null || cp "$binary" "$stage/bootstrap"
if [[ -n ${TSAPI_LAMBDA_CA_FILE:-} ]]; then
    cp "$TSAPI_LAMBDA_CA_FILE" "$stage/rds-ca.pem"
fi
(cd "$stage" && zip -q -X -r ../tsapi.zip .)
echo "target/lambda/tsapi.zip: $(stat -c %s target/lambda/tsapi.zip) bytes" \
     "(bootstrap $(stat -c %s "$stage/bootstrap") bytes)"
