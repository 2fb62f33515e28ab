#!/usr/bin/env bash
# `make test`: formatting, lints, then every test against real PostgreSQL.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"
scripts/venv.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
