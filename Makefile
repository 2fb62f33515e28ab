# The two commands of the README, and the benchmarks. Everything they need
# is installed by the scripts they call.
SHELL := /bin/bash

.PHONY: dev test release deploy-check ui-check bench-search bench-booking bench-api bench-smoke chaos record-histories lint fmt stack-start stack-stop stack-status clean

dev: ## run the whole local stack in the foreground (Ctrl-C stops it)
	@scripts/dev.sh

test: ## format check, clippy, and every test against real components
	@scripts/test.sh

release: ## the three service binaries in release mode, stripped copies in target/image/ (the container image's build step)
	@scripts/release.sh

deploy-check: ## render and validate deploy/ offline (also part of `make test`)
	@scripts/check-tools.sh && .dev/venv/bin/python deploy/validate.py

ui-check: ## the Temporal Web UI in headless Chromium: bookings filtered by search attributes; screenshots in target/ui-check/ (also part of `make test`)
	@scripts/check-tools.sh && source scripts/env.sh && cargo test --workspace --test ui

bench-search: ## search and hold/release throughput on 100,000 flights
	@scripts/bench-search.sh

bench-booking: ## bookings end to end vs a no-op workflow ceiling; worker memory with 5,000 awaiting payment
	@scripts/bench-booking.sh

bench-api: ## create-booking latency through the gateway at 20 clients; gateway memory
	@scripts/bench-api.sh

bench-smoke: ## the three bench-* in their smoke mode (BENCH_SMOKE=1: same path, seconds of load, dev binaries; also the end of `make test`)
	@scripts/bench-smoke.sh

chaos: ## bookings through the gateway while the worker is killed every few seconds: answers by status, captures, open authorizations, seats of ended bookings, duplicate emails and texts (not in `make test`)
	@scripts/chaos.sh

record-histories: ## re-record workers/tests/histories (after a patched workflow change)
	@source scripts/env.sh && RECORD_HISTORIES=1 cargo test -p workers --test booking --test resilience --test faults --test texts --test frontend && RECORD_HISTORIES=1 cargo test -p api --test gateway -- admin_flight_changes 3d_secure cards::

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

stack-start: ## Temporal dev server, localstripe and the SMTP sink only
	@temporal-dev/stack.sh start
stack-stop:
	@temporal-dev/stack.sh stop
stack-status:
	@temporal-dev/stack.sh status

clean: stack-stop
	@scripts/postgres.sh stop
	rm -rf .dev target
