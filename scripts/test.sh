#!/usr/bin/env bash
# `make test`: formatting, lints, then every test against real PostgreSQL.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"
scripts/venv.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# deploy/ offline (manifests, KEDA, alert rules, dashboard); the tools
# the tests need beyond cargo (Chromium for the Web UI check).
scripts/check-tools.sh
.dev/venv/bin/python deploy/validate.py
cargo test --workspace
# Every `make bench-*` in its smoke mode (the same path, a few seconds of
# load; the dev profile's binaries): one line each, fails if one fails.
scripts/bench-smoke.sh
