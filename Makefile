# Two commands for a fresh machine:
#   make run    local TimescaleDB + schema + sample data, then the API on 127.0.0.1:8080
#   make test   local TimescaleDB, then every test
SHELL := /bin/bash
DATABASE_URL ?= $(shell bash scripts/db.sh url)
export DATABASE_URL

.PHONY: run test db db-stop lint ci

db:
	bash scripts/db.sh setup

run: db
	cargo build --release
	./target/release/tsapi migrate
	./target/release/tsapi demo-data
	./target/release/tsapi serve

test: db
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

# AWS Lambda: `make lambda` builds target/lambda/tsapi.zip; `make deploy` also deploys it.
.PHONY: lambda deploy cfn-lint
lambda:
	bash deploy/package.sh

deploy: lambda
	sam deploy --guided --template-file deploy/template.yaml

cfn-lint:
	bash deploy/lint.sh
