#!/usr/bin/env bash
# `make release`, and the image's build step (deploy/Dockerfile): the three
# service binaries in release mode, then copies without symbols and debug
# line tables (which the benchmarks' profiles keep) in target/image/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/venv.sh   # protoc for the Temporal SDK's build
cargo build --release --locked -j"${CARGO_BUILD_JOBS:-2}" \
  -p flights -p workers -p api --bin flights --bin worker --bin api
mkdir -p target/image
for bin in flights worker api; do
  strip -o "target/image/$bin" "target/release/$bin"
done
ls -l target/image
