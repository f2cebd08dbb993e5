# Two commands for a fresh machine:
#   make run    local TimescaleDB + schema + sample data, then the API on 127.0.0.1:8080
#   make test   local TimescaleDB, then every test
SHELL := /bin/bash
# The local cluster's port; set it to run a second clone's cluster beside the first.
TSAPI_PG_PORT ?= 54329
DATABASE_URL ?= postgres://tsapi:tsapi@127.0.0.1:$(TSAPI_PG_PORT)/tsapi
TSAPI_TEST_DATABASE_URL ?= postgres://tsapi:tsapi@127.0.0.1:$(TSAPI_PG_PORT)/postgres
export TSAPI_PG_PORT DATABASE_URL TSAPI_TEST_DATABASE_URL

.PHONY: run test db browser-deps db-stop lint ci

db:
	bash scripts/db.sh setup

# Headless Chromium for the browser test of the chart page.
browser-deps:
	bash scripts/browser-deps.sh

run: db
	cargo build --release
	./target/release/tsapi migrate
	./target/release/tsapi demo-data
	./target/release/tsapi serve

test: db browser-deps
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --no-fail-fast; \
	else \
		cargo test --no-fail-fast; \
	fi

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

db-stop:
	bash scripts/db.sh stop

ci: lint test

# Ingest and latest-bar benchmark against psql \copy and pgbench; writes bench/RESULTS.md.
.PHONY: bench
bench:
	bash bench/run.sh
