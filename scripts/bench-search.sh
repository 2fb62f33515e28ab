#!/usr/bin/env bash
# `make bench-search`: search and hold/release throughput of the flight
# service on 100,000 flights, in a separate database (airline_flights_bench,
# seeded once and reused) on a PostgreSQL cluster of its own
# (scripts/bench-postgres.sh), with the load generator on the same machine.
# BENCH_SMOKE=1 (scripts/bench-common.sh): 600 flights in a database of its
# own (airline_flights_bench_smoke, seeded each run and dropped on exit),
# 3 s per phase and no warm-up, on port 28081.
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"
export FLIGHTS_SERVICE_TOKEN="${FLIGHTS_SERVICE_TOKEN:-bench-flights-service-token}"

if [[ "$smoke" == 1 ]]; then
  FLIGHTS="${BENCH_FLIGHTS:-600}" DURATION="${BENCH_DURATION:-3s}" WARMUP=0s PORT="${BENCH_PORT:-28081}"
  DB_NAME=airline_flights_bench_smoke work="$root/.dev/bench-search-smoke"
else
  FLIGHTS="${BENCH_FLIGHTS:-100000}" DURATION="${BENCH_DURATION:-20s}" WARMUP=5s PORT="${BENCH_PORT:-18081}"
  DB_NAME=airline_flights_bench work="$root/.dev/bench"
fi
CLIENTS="${BENCH_CLIENTS:-32}"
pg_dir="${BENCH_PG_DIR:-$root/.dev/bench-pg}" pg_port="${BENCH_PG_PORT:-55433}"
ports_free "$PORT"
mkdir -p "$work"

if ! command -v psql >/dev/null; then
  echo "bench: installing postgresql-client for psql" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
fi

# The same set as the other benches (scripts/bench-stack.sh): one set of
# artifacts for all of them.
bench_build
PG_SERVER_URL="$(scripts/bench-postgres.sh)"
DB_URL="$(scripts/db-url.sh "$PG_SERVER_URL" "$DB_NAME")"
server=
cleanup() {
  local status=$?
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [[ "$smoke" == 1 ]]; then
    (( status == 0 )) || bench_logs "$work"
    PGOPTIONS="-c client_min_messages=warning" psql "$PG_SERVER_URL" -qc "drop database if exists $DB_NAME with (force)" >/dev/null || true
  fi
  scripts/bench-postgres.sh stop
}
trap cleanup EXIT
if [[ "$smoke" == 1 ]]; then
  PGOPTIONS="-c client_min_messages=warning" psql "$PG_SERVER_URL" -qc "drop database if exists $DB_NAME with (force)" >/dev/null
fi

export FLIGHTS_DATABASE_URL="$DB_URL"
"$bin/flights" migrate
have="$(psql "$DB_URL" -tAc "select count(*) from flight where departure_time > now()")"
if (( have < FLIGHTS * 9 / 10 )); then
  (( smoke )) || echo "bench: seeding $FLIGHTS flights (once; takes a few minutes)"
  time "$bin/flights" seed --flights "$FLIGHTS"
fi
# Leftovers of an interrupted run would skew the hold figures.
psql "$DB_URL" -qtAc "select inventory_release(booking_id, true) from seat_hold where status <> 'released'" >/dev/null
psql "$DB_URL" -qtAc "vacuum analyze seat_hold, seat_hold_item, flight_cabin" >/dev/null
psql "$DB_URL" -qtAc "checkpoint" >/dev/null
# The cluster may have just started: load what the runs touch into memory, so
# the figures measure the service rather than a cold cache.
psql "$DB_URL" -qtAc "create extension if not exists pg_prewarm" >/dev/null
psql "$DB_URL" -qtAc "
  select sum(pg_prewarm(c.oid::regclass)) from pg_class c
   where c.relname in ('flight', 'flight_cabin', 'airport', 'city', 'seat_hold', 'seat_hold_item',
                       'flight_pkey', 'flight_route_departure_idx', 'flight_origin_departure_idx',
                       'flight_departure_idx', 'flight_cabin_pk', 'seat_hold_pkey')" >/dev/null

psql "$DB_URL" -tAc "
  select format('from=%s&to=%s&date=%s&travellers=%s', o.iata_code, d.iata_code,
                f.departure_local::date, 1 + (f.flight_id % 3))
    from flight f join airport o on o.airport_id = f.origin_airport_id
    join airport d on d.airport_id = f.destination_airport_id
   where f.departure_time > now() + interval '1 day'
   order by md5(f.flight_id::text) limit 5000" >"$work/queries.txt"
psql "$DB_URL" -tAc "
  select flight_id from flight where departure_time > now() + interval '1 day'
   order by md5(flight_id::text) limit 5000" >"$work/flights.txt"
head -n 1 "$work/flights.txt" >"$work/one-flight.txt"

DB_CONNECTIONS="${BENCH_DB_CONNECTIONS:-8}"
# The service reaches the database on this machine through its Unix socket,
# as a co-located deployment would.
# (A smoke run keeps the service's log in $work/flights.log.)
serve() {
  FLIGHTS_DATABASE_URL="postgres://postgres@localhost/$DB_NAME?host=$pg_dir&port=$pg_port" \
  FLIGHTS_PORT="$PORT" FLIGHTS_DB_MAX_CONNECTIONS="$DB_CONNECTIONS" RUST_LOG=warn \
    exec "$bin/flights" serve
}
if [[ "$smoke" == 1 ]]; then serve >"$work/flights.log" 2>&1 & else serve & fi
server=$!
scripts/wait-ready.sh "$PORT"

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo) GiB RAM"
echo "postgres: $(psql "$DB_URL" -tAc "select version()" | cut -d, -f1), shared_buffers $(psql "$DB_URL" -tAc "show shared_buffers"), synchronous_commit $(psql "$DB_URL" -tAc "show synchronous_commit"), service pool $DB_CONNECTIONS connections over the Unix socket"
echo "catalogue: $(psql "$DB_URL" -tAc "select count(*) from flight") flights, $(psql "$DB_URL" -tAc "select count(*) from seat") seats"
echo "flight service: $profile build"
lg=("$bin/loadgen" --addr "127.0.0.1:$PORT" --concurrency "$CLIENTS" --duration "$DURATION" --warmup "$WARMUP")
"${lg[@]}" search --queries "$work/queries.txt"
"${lg[@]}" holds --flights "$work/flights.txt"
echo "all clients on one flight:"
"${lg[@]}" holds --flights "$work/one-flight.txt"
echo "flight service peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$server/status")"
# Every hold was released: no seat held or sold on the flights run on.
sort -u "$work/flights.txt" "$work/one-flight.txt" >"$work/run-flights.txt"
check_seats "$DB_URL" "$work/run-flights.txt" 0 0
