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
	@# A local read+write key, made once: its entry in .data/api_keys, the key in .data/api_key.
	@if [ ! -s .data/api_key ]; then \
		./target/release/tsapi keygen --name local --scopes read+write > .data/api_key.new \
		&& head -n 1 .data/api_key.new > .data/api_key \
		&& tail -n 1 .data/api_key.new >> .data/api_keys && rm .data/api_key.new; \
	fi
	@echo "API key: $$(cat .data/api_key)   (in another shell: KEY=\$$(cat .data/api_key))"
	TSAPI_API_KEYS_FILE=.data/api_keys ./target/release/tsapi serve

# The PgBouncer tests need a pooler in front of the cluster; the replica tests a primary
# and its streaming replica of their own (scripts/replica.sh).
TSAPI_TEST_PGBOUNCER_URL ?= postgres://tsapi:tsapi@127.0.0.1:64329/postgres
TSAPI_TEST_PRIMARY_URL ?= postgres://tsapi:tsapi@127.0.0.1:54349/tsapi
TSAPI_TEST_REPLICA_URL ?= postgres://tsapi:tsapi@127.0.0.1:54359/tsapi
export TSAPI_TEST_PGBOUNCER_URL TSAPI_TEST_PRIMARY_URL TSAPI_TEST_REPLICA_URL

test: db browser-deps
	bash scripts/pgbouncer.sh start
	bash scripts/replica.sh start
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
# AWS Lambda: `make lambda` builds target/lambda/tsapi.zip; `make deploy` also deploys it.
.PHONY: lambda deploy cfn-lint
lambda:
	bash deploy/package.sh

deploy: lambda
	sam deploy --guided --template-file deploy/template.yaml

cfn-lint:
	bash deploy/lint.sh
