#!/usr/bin/env bash
# `make release`, and the image's build step (deploy/Dockerfile): the three
# service binaries in release mode, into target/release/{flights,worker,api}.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/venv.sh   # protoc for the Temporal SDK's build
cargo build --release --locked -j"${CARGO_BUILD_JOBS:-2}" \
  -p flights -p booking-worker -p api --bin flights --bin worker --bin api
