#!/usr/bin/env bash
# Sourced by the bench-* scripts that need the whole local stack: starts it
# here on bench ports — Temporal dev server (WAL SQLite), flight service
# (3 days of the demo schedule), localstripe, SMTP sink, PostgreSQL
# (scripts/bench-postgres.sh), the `worker` (release; BENCH_PROFILE and
# BENCH_SMOKE: scripts/bench-common.sh) — and stops it on exit (a smoke
# run also drops its databases).
# Leaves: $root, $work, $bin, $pids, $worker, start_worker, start_gateway,
# $T_PORT..., $A_PORT, $A_METRICS, $FLIGHTS_DB, $BOOKING_DB, wait_port,
# rss PID KEY, what bench-common.sh leaves ($smoke, check_seats...), and
# the ids of 500 bookable flights in $work/flights.txt.
# BENCH_NAME names the work folder.
source "$(dirname "$0")/bench-common.sh"
if [[ "$smoke" == 1 ]]; then
  T_PORT=27233 S_PORT=28420 M_PORT=22525 F_PORT=28081 W_METRICS=29464 W_HTTP=28082 K_PORT=23113 A_PORT=28080 A_METRICS=29465
  work="$root/.dev/${BENCH_NAME:-bench}-smoke" db_suffix=_smoke
else
  T_PORT=17233 S_PORT=18420 M_PORT=12525 F_PORT=18081 W_METRICS=19464 W_HTTP=18082 K_PORT=13113 A_PORT=18080 A_METRICS=19465
  work="$root/.dev/${BENCH_NAME:-bench}" db_suffix=
fi
ports_free $T_PORT $S_PORT $M_PORT $F_PORT $W_METRICS $W_HTTP $K_PORT $A_PORT $A_METRICS
rm -rf "$work" && mkdir -p "$work/mail"

scripts/venv.sh
if ! command -v psql >/dev/null; then
  echo "bench: installing postgresql-client for psql" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
fi
bench_build
PG_SERVER_URL="$(scripts/bench-postgres.sh)"
FLIGHTS_DB_NAME="airline_flights_bookbench$db_suffix" BOOKING_DB_NAME="airline_booking_bench$db_suffix"
FLIGHTS_DB="$(scripts/db-url.sh "$PG_SERVER_URL" "$FLIGHTS_DB_NAME")"
BOOKING_DB="$(scripts/db-url.sh "$PG_SERVER_URL" "$BOOKING_DB_NAME")"
drop_dbs() {
  PGOPTIONS="-c client_min_messages=warning" psql "$PG_SERVER_URL" -qc "drop database if exists $FLIGHTS_DB_NAME with (force)" \
    -c "drop database if exists $BOOKING_DB_NAME with (force)" >/dev/null
}

pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "$smoke" == 1 ]]; then
    (( status == 0 )) || bench_logs "$work"
    drop_dbs || true
  fi
  scripts/bench-postgres.sh stop
}
trap cleanup EXIT
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 300); do answers "$1" && return; sleep 0.1; done; echo "bench: port $1 never opened" >&2; exit 1; }

venv="$root/.dev/venv/bin"
sa=()
for a in BookingStatus=Keyword FlightNumber=Keyword DepartureTime=Datetime UserId=Keyword BookingRef=Keyword; do
  sa+=(--search-attribute "$a")
done
"$venv/temporal" server start-dev --headless --ip 127.0.0.1 --port $T_PORT \
  --db-filename "$work/temporal.db" --sqlite-pragma journal_mode=wal --log-level error "${sa[@]}" \
  --dynamic-config-value system.forceSearchAttributesCacheRefreshOnRead=false \
  >"$work/temporal.log" 2>&1 &
pids+=($!)
"$venv/python" temporal-dev/localstripe_memory.py --port $S_PORT >"$work/stripe.log" 2>&1 &
pids+=($!)
"$venv/python" temporal-dev/smtp_sink.py --port $M_PORT --mail-dir "$work/mail" >"$work/smtp.log" 2>&1 &
pids+=($!)

export FLIGHTS_SERVICE_TOKEN=bench-flights-service-token
export FLIGHTS_DATABASE_URL="$FLIGHTS_DB"
# A fresh catalogue each run: 3 days of the demo schedule (822 flights).
drop_dbs
"$bin/flights" migrate >/dev/null
"$bin/flights" seed --days 3 >/dev/null
psql "$FLIGHTS_DB" -tAc "select flight_id from flight where departure_time > now() + interval '3 hours'
                         order by md5(flight_id::text) limit 500" >"$work/flights.txt"
FLIGHTS_PORT=$F_PORT RUST_LOG=warn "$bin/flights" serve >"$work/flights.log" 2>&1 &
pids+=($!)

wait_port $T_PORT; wait_port $S_PORT; wait_port $M_PORT; wait_port $F_PORT
export TEMPORAL_ADDRESS="127.0.0.1:$T_PORT" TEMPORAL_NAMESPACE=default
# Payloads encrypted as in production (a bench-only key), for the worker,
# bookingbench and the gateway alike.
export PAYLOAD_ENCRYPTION_KEYS="bench-1=YmVuY2gtb25seS1wYXlsb2FkLWtleS0zMi1ieXRlcyE="
# Texts go to Kannel on K_PORT: only scripts/chaos.sh starts one
# (BENCH_KANNEL=1); the other benches book without a phone number, but the
# worker needs the settings all the same.
if [[ "${BENCH_KANNEL:-0}" == 1 ]]; then
  scripts/debian-packages.sh kannel=/usr/sbin/bearerbox kannel-extras=/usr/lib/kannel/test/fakesmsc
  "$venv/python" temporal-dev/kannel.py --port $K_PORT --dir "$work/sms" --user bench \
    --password bench-kannel-password >"$work/kannel.log" 2>&1 &
  pids+=($!)
  wait_port $K_PORT
fi
# The worker; `start_worker` again after a kill (scripts/chaos.sh).
start_worker() {
  BOOKING_DATABASE_URL="$BOOKING_DB" FLIGHTS_URL="http://127.0.0.1:$F_PORT" \
    STRIPE_SECRET_KEY=sk_test_bench STRIPE_API_BASE="http://127.0.0.1:$S_PORT" \
    SMTP_HOST=127.0.0.1 SMTP_PORT=$M_PORT WORKER_METRICS_ADDR="127.0.0.1:$W_METRICS" WORKER_HTTP_ADDR="127.0.0.1:$W_HTTP" \
    KANNEL_SENDSMS_URL="http://127.0.0.1:$K_PORT/cgi-bin/sendsms" KANNEL_USER=bench KANNEL_PASSWORD=bench-kannel-password \
    SMS_DLR_BASE_URL="http://127.0.0.1:$W_HTTP" SMS_DLR_TOKEN=bench-sms-dlr-token RUST_LOG=warn \
    "$bin/worker" >>"$work/worker.log" 2>&1 &
  worker=$!
  pids+=($worker)
  wait_port $W_METRICS
}
start_worker

# The gateway on $A_PORT (metrics on $A_METRICS), its own tables migrated first (the worker
# migrated the booking records), every rate limit open (a run measures the
# path or the faults, not the limiter) and the address confirmation off
# (which only the development environment allows): `start_gateway NAME
# VAR=value...`, its secrets named after NAME (whsec_NAME signs the
# webhooks), then the run's own settings. Its log is $work/api.log, its
# pid $api.
start_gateway() {
  local name=$1
  shift
  BOOKING_DATABASE_URL="$BOOKING_DB" RUST_LOG=warn "$bin/api" migrate
  env BOOKING_DATABASE_URL="$BOOKING_DB" FLIGHTS_URL="http://127.0.0.1:$F_PORT" API_PORT=$A_PORT API_METRICS_ADDR="127.0.0.1:$A_METRICS" \
    JWT_SECRET="$name-jwt-secret-0123456789abcdef-0123" STRIPE_WEBHOOK_SECRET="whsec_$name" \
    AUTH_RATE_LIMIT_BURST=100000 AUTH_RATE_LIMIT_PERIOD=1ms API_RATE_LIMIT_BURST=100000 API_RATE_LIMIT_PERIOD=1ms \
    AIRLINE_ENV=development BOOKING_REQUIRES_VERIFIED_EMAIL=false RUST_LOG=warn \
    "$@" "$bin/api" serve >"$work/api.log" 2>&1 &
  api=$!
  pids+=($api)
}

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo) GiB RAM"
echo "stack: Temporal dev server $("$venv/temporal" --version | sed 's/.*(//; s/)//') (SQLite WAL), localstripe, PostgreSQL $(psql "$FLIGHTS_DB" -tAc 'show server_version'), $profile worker and flight service, all on this machine"
rss() { awk -v k="$2" '$1 == k":" {printf "%.0f MB", $2 / 1024}' "/proc/$1/status"; }
