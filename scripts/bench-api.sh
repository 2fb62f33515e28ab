#!/usr/bin/env bash
# `make bench-api`: create-booking latency through the gateway — signed-up
# users, each POST /api/v1/bookings (Idempotency-Key, one economy seat)
# answered once the workflow holds the seats — with BENCH_CLIENTS (20)
# concurrent clients, BENCH_BOOKINGS (600) requests per run, three runs;
# and the gateway's memory under that load. The whole stack runs here
# (scripts/bench-stack.sh), the release `api` on port 18080.
set -euo pipefail
BENCH_NAME=bench-api BENCH_BUILD="-p api -p bench"
source "$(dirname "$0")/bench-stack.sh"
CLIENTS="${BENCH_CLIENTS:-20}"
BOOKINGS="${BENCH_BOOKINGS:-600}"
A_PORT=18080

# Limits wide open: the benchmark measures the path, not the limiter.
BOOKING_DATABASE_URL="$BOOKING_DB" FLIGHTS_URL="http://127.0.0.1:$F_PORT" API_PORT=$A_PORT \
  JWT_SECRET=bench-jwt-secret-0123456789abcdef-0123 STRIPE_WEBHOOK_SECRET=whsec_bench \
  AUTH_RATE_LIMIT_BURST=100000 AUTH_RATE_LIMIT_PERIOD=1ms API_RATE_LIMIT_BURST=100000 API_RATE_LIMIT_PERIOD=1ms \
  PAYMENT_WINDOW=30m RUST_LOG=warn "$bin/api" serve >"$work/api.log" 2>&1 &
api=$!
pids+=($api)
scripts/wait-ready.sh $A_PORT 60
echo "gateway: release build, RSS at start $(rss $api VmRSS)"

ab=("$bin/apibench" --base "http://127.0.0.1:$A_PORT" --flights "$work/flights.txt")
"${ab[@]}" --clients "$CLIENTS" --bookings 60 --tag warmup >/dev/null
for run in 1 2 3; do
  "${ab[@]}" --clients "$CLIENTS" --bookings "$BOOKINGS" --tag "run$run"
done
echo "gateway RSS after the runs: $(rss $api VmRSS), peak $(rss $api VmHWM) (target < 60 MB); target create-booking p99 < 150 ms"
