#!/usr/bin/env bash
# Sourced first by every bench-* script: the build profile, the binaries,
# and the smoke mode.
#
# BENCH_SMOKE=1 runs a benchmark's whole path (the same stack, binaries and
# settings) with a tiny load, as `make test` does after the tests
# (`make bench-smoke`): its own ports (2xxxx instead of the bench's 1xxxx
# and `make dev`'s), its own PostgreSQL cluster (.dev/bench-smoke-pg on
# port 55434), its own databases (dropped on exit), its work folder
# .dev/<name>-smoke, and one smoke at a time on this machine (a lock in
# /tmp), so that two `make test` never share a port. It uses the dev
# profile's binaries unless BENCH_PROFILE says otherwise.
# BENCH_PROFILE: release (the benchmarks' default) or debug.
# Leaves: $root, $smoke (0 or 1), $profile, $bin, bench_build, bench_logs,
# check_seats, ports_free.
# BENCH_SMOKE_TIMEOUT (120): a smoke run's limit in seconds after its build.
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
smoke="${BENCH_SMOKE:-0}"
if [[ "$smoke" == 1 ]]; then
  profile="${BENCH_PROFILE:-debug}"
  export BENCH_PG_PORT="${BENCH_PG_PORT:-55434}" BENCH_PG_DIR="${BENCH_PG_DIR:-$root/.dev/bench-smoke-pg}"
  mkdir -p "$root/.dev"
  exec 9>"/tmp/airline-bench-smoke.lock"
  if ! flock -w 600 9; then
    echo "bench smoke: another smoke held /tmp/airline-bench-smoke.lock for 10 minutes" >&2
    exit 1
  fi
else
  profile="${BENCH_PROFILE:-release}"
fi
case "$profile" in
  release) profile_flag=(--release) ;;
  debug) profile_flag=() ;;
  *) echo "bench: BENCH_PROFILE is release or debug, not $profile" >&2; exit 1 ;;
esac
bin="${CARGO_TARGET_DIR:-$root/target}/$profile"
# Every bench builds the same set, so that they share one set of artifacts
# (a subset would unify other features and rebuild half the tree).
# After the build, a smoke run gets its deadline (smoke_deadline).
bench_build() {
  cargo build "${profile_flag[@]}" -p flights -p workers -p api -p bench
  if [[ "$smoke" == 1 ]]; then smoke_deadline "${BENCH_SMOKE_TIMEOUT:-120}"; fi
}
# descendants PID: the processes PID started, their children first.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1"); do
    descendants "$child"
    echo "$child"
  done
}
# smoke_deadline SECONDS: a run still going after SECONDS (a client waiting
# for a worker that is gone) has the processes it started stopped, so that
# its command fails and its exit trap cleans up; the watchdog goes with the
# script.
smoke_deadline() {
  local parent=$$ limit=$1
  (
    for ((i = 0; i < limit; i++)); do
      sleep 1
      kill -0 "$parent" 2>/dev/null || exit 0
    done
    echo "bench smoke: still running after $limit s: stopping it" >&2
    for pid in $(descendants "$parent"); do
      [[ "$pid" == "$BASHPID" ]] || kill -TERM "$pid" 2>/dev/null || true
    done
  ) 9>&- &
}
# The last lines of each log in $1, for a smoke that failed.
bench_logs() {
  local f
  for f in "$1"/*.log; do
    [[ -s "$f" ]] || continue
    echo "--- $f (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
}
# check_seats DB_URL FLIGHTS_FILE HELD SOLD: on the flights in FLIGHTS_FILE
# (one id a line), HELD seats held and SOLD sold, and each cabin's
# seats_available counter equal to its seats still available; prints the
# figures, and fails (status 1) if a seat was lost or found.
check_seats() {
  local ids figures held sold off
  ids="{$(paste -sd, "$2")}"
  figures="$(psql "$1" -tAF' ' -c "
    select count(*) filter (where s.status = 'held'), count(*) filter (where s.status = 'sold'),
           (select count(*) from flight_cabin c
             where c.flight_id = any('$ids'::bigint[])
               and c.seats_available <> (select count(*) from seat a where a.flight_id = c.flight_id
                                           and a.cabin = c.cabin and a.status = 'available'))
      from seat s where s.flight_id = any('$ids'::bigint[])")"
  read -r held sold off <<<"$figures"
  echo "seats on the $(wc -l <"$2") flights run on: $held held, $sold sold (expected $3 and $4); cabins whose counter disagrees with their seats: $off"
  if [[ "$held" != "$3" || "$sold" != "$4" || "$off" != 0 ]]; then
    echo "bench: seats lost or found" >&2
    return 1
  fi
}
# ports_free PORT...: fails, naming it, if something already answers on
# one (a smoke must not talk to another run's server).
ports_free() {
  local p
  for p in "$@"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "bench: port $p is taken by another process" >&2
      return 1
    fi
  done
}
