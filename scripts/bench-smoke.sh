#!/usr/bin/env bash
# `make bench-smoke`, and the end of `make test`: every `make bench-*` in
# its smoke mode (BENCH_SMOKE=1, scripts/bench-common.sh) — the same
# scripts, stack, binaries and checks with a tiny load, on ports,
# databases and a PostgreSQL cluster of their own, the dev profile's
# binaries — so that a benchmark cannot break unseen. One line each;
# a failed one's output follows its line. Exits non-zero if one failed
# (after running them all). The full output of each is in
# .dev/bench-smoke/<name>.log. `bench-smoke.sh search api` runs some.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
logs="$root/.dev/bench-smoke"
mkdir -p "$logs"
names=("$@")
(( ${#names[@]} )) || names=(search booking api)
# As from a clean shell: none of `make test`'s settings (scripts/env.sh
# exports the dev stack's) may stand in for one a benchmark forgot.
clean=()
for v in PATH HOME USER LANG TERM TMPDIR CARGO_HOME RUSTUP_HOME RUSTUP_TOOLCHAIN CARGO_TARGET_DIR CARGO_BUILD_JOBS BENCH_SMOKE_TIMEOUT; do
  [[ -n "${!v:-}" ]] && clean+=("$v=${!v}")
done

# The binaries first (the scripts build the same set again: a no-op), so
# that each smoke's time is its run's.
start=$SECONDS
if ! cargo build -p flights -p workers -p api -p bench >"$logs/build.log" 2>&1; then
  tail -n 40 "$logs/build.log"
  echo "bench smoke: the build failed ($logs/build.log)"
  exit 1
fi
echo "bench smoke: binaries built ($((SECONDS - start)) s)"
failed=()
for name in "${names[@]}"; do
  start=$SECONDS
  if env -i "${clean[@]}" BENCH_SMOKE=1 BENCH_PROFILE=debug "scripts/bench-$name.sh" >"$logs/$name.log" 2>&1; then
    echo "bench-$name smoke: ok ($((SECONDS - start)) s)"
  else
    echo "bench-$name smoke: FAILED ($((SECONDS - start)) s; $logs/$name.log):"
    tail -n 60 "$logs/$name.log" | sed 's/^/  /'
    failed+=("$name")
  fi
done
if (( ${#failed[@]} )); then
  echo "bench smoke: failed: ${failed[*]}"
  exit 1
fi
