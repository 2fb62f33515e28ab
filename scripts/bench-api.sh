#!/usr/bin/env bash
# `make bench-api`: create-booking latency through the gateway — signed-up
# users, each POST /api/v1/bookings (Idempotency-Key, one economy seat)
# answered once the workflow holds the seats — with BENCH_CLIENTS (20)
# concurrent clients, BENCH_BOOKINGS (600) requests per run, three runs;
# and the gateway's memory under that load. The whole stack runs here
# (scripts/bench-stack.sh), the release `api` on port 18080.
# BENCH_SMOKE=1 (scripts/bench-common.sh): 4 clients, 10 requests a run,
# 5 single-client ones, no warm-up, the `api` on port 28080. Fails if a
# request fails or the seats held are not the bookings created.
set -euo pipefail
BENCH_NAME=bench-api
source "$(dirname "$0")/bench-stack.sh"
if [[ "$smoke" == 1 ]]; then
  CLIENTS="${BENCH_CLIENTS:-4}" BOOKINGS="${BENCH_BOOKINGS:-10}" WARMUP=0 SINGLE=5
else
  CLIENTS="${BENCH_CLIENTS:-20}" BOOKINGS="${BENCH_BOOKINGS:-600}" WARMUP=60 SINGLE=100
fi

# Limits wide open (start_gateway), the per-user caps too: the benchmark's
# few accounts hold many bookings.
start_gateway bench BOOKING_MAX_LIVE_PER_USER=100000 BOOKING_MAX_HELD_SEATS_PER_USER=100000 \
  PAYMENT_WINDOW=30m
scripts/wait-ready.sh $A_PORT 60
echo "gateway: $profile build, RSS at start $(rss $api VmRSS)"

ab=("$bin/apibench" --base "http://127.0.0.1:$A_PORT" --flights "$work/flights.txt")
# Each run's output, for the seats check at the end.
: >"$work/apibench.out"
apibench() { "${ab[@]}" "$@" | tee -a "$work/apibench.out"; }
if (( WARMUP > 0 )); then apibench --clients "$CLIENTS" --bookings $WARMUP --tag warmup >/dev/null; fi
# The gateway's resident memory, sampled every 0.2 s while the runs load it.
( peak=0; while kill -0 $api 2>/dev/null; do
    kb=$(awk '$1 == "VmRSS:" {print $2}' /proc/$api/status 2>/dev/null || echo 0)
    (( kb > peak )) && peak=$kb && echo $peak >"$work/api-rss-peak"
    sleep 0.2
  done ) &
sampler=$!
for run in 1 2 3; do
  apibench --clients "$CLIENTS" --bookings "$BOOKINGS" --tag "run$run"
done
kill $sampler 2>/dev/null || true
wait $sampler 2>/dev/null || true
echo "gateway RSS under the load: at most $(( $(cat "$work/api-rss-peak" 2>/dev/null || echo 0) / 1024 )) MB (sampled every 0.2 s; target < 60 MB); after: $(rss $api VmRSS); process peak (VmHWM, sign-ups included): $(rss $api VmHWM)"
echo "targets: create-booking p99 <= 400 ms at $CLIENTS clients; p50 <= 60 ms for a single client"

# Where a create's time goes, from the gateway's own metrics: the whole
# request vs the update-with-start call to Temporal inside it.
metrics="$(exec 3<>/dev/tcp/127.0.0.1/$A_METRICS; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3)"
awk '
  /^http_request_duration_seconds_sum\{.*method="POST".*route="\/api\/v1\/bookings".*status="201"/ { hs += $NF }
  /^http_request_duration_seconds_count\{.*method="POST".*route="\/api\/v1\/bookings".*status="201"/ { hc += $NF }
  /^gateway_temporal_call_seconds_sum\{call="start_and_hold"\}/ { ts += $NF }
  /^gateway_temporal_call_seconds_count\{call="start_and_hold"\}/ { tc += $NF }
  END { if (hc > 0 && tc > 0) printf "server side, mean per create (all runs): %.1f ms in the gateway, of which %.1f ms waiting for Temporal (update-with-start until held): %.1f ms the gateway'"'"'s own\n", hs / hc * 1000, ts / tc * 1000, (hs / hc - ts / tc) * 1000 }
' <<<"$metrics"

# The same requests one at a time: the path's latency without queueing.
apibench --clients 1 --bookings $SINGLE --tag single

# Every booking created holds its seat (awaiting payment), no other seat
# is taken.
created="$(sed -n 's/.*(\([0-9]*\) created,.*/\1/p' "$work/apibench.out" | awk '{ n += $1 } END { print n + 0 }')"
check_seats "$FLIGHTS_DB" "$work/flights.txt" "$created" 0
