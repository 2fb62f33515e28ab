#!/usr/bin/env bash
# `make chaos`: CHAOS_BOOKINGS (200) bookings through the gateway at
# CHAOS_CLIENTS (20) clients, each booked, paid and every fourth cancelled
# (bench/src/bin/chaosbench.rs), while the worker is killed with SIGKILL
# every CHAOS_KILL_EVERY seconds (4) and started again CHAOS_DOWN seconds
# (1) later. The whole stack runs here (scripts/bench-stack.sh, with
# Kannel for texts). Prints the clients' answers by status, the bookings'
# final statuses, captures per booking, open authorizations, seats still
# held or sold by ended bookings, duplicate emails and texts. Not part of
# `make test` (minutes long); exits non-zero when money or seats went wrong.
set -euo pipefail
BENCH_NAME=chaos
BENCH_KANNEL=1
source "$(dirname "$0")/bench-stack.sh"
CLIENTS="${CHAOS_CLIENTS:-20}"
BOOKINGS="${CHAOS_BOOKINGS:-200}"
EVERY="${CHAOS_KILL_EVERY:-4}"
DOWN="${CHAOS_DOWN:-1}"
A_PORT=18080

# Limits open (start_gateway: the run measures faults, not the limiter);
# the production payment window and reminder lead.
start_gateway chaos BOOKING_MAX_LIVE_PER_USER=1000 BOOKING_MAX_HELD_SEATS_PER_USER=1000 PAYMENT_MAX_ATTEMPTS=20
scripts/wait-ready.sh $A_PORT 60
# Stripe's webhooks go to the gateway, as in `make dev`.
curl -fsS -u sk_test_bench: -X POST "http://127.0.0.1:$S_PORT/_config/webhooks/chaos" \
  -d "url=http://127.0.0.1:$A_PORT/api/v1/webhooks/stripe" -d secret=whsec_chaos >/dev/null

"$bin/chaosbench" --base "http://127.0.0.1:$A_PORT" --stripe "http://127.0.0.1:$S_PORT" \
  --mail-dir "$work/mail" --texts "$work/sms/messages.jsonl" --flights "$work/flights.txt" \
  --clients "$CLIENTS" --bookings "$BOOKINGS" >"$work/chaosbench.out" 2>&1 &
bench=$!
kills=0
while kill -0 $bench 2>/dev/null; do
  sleep "$EVERY"
  kill -0 $bench 2>/dev/null || break
  kill -KILL "$worker" 2>/dev/null || true
  wait "$worker" 2>/dev/null || true
  kills=$((kills + 1))
  sleep "$DOWN"
  start_worker
done
set +e
wait $bench
verdict=$?
set -e
cat "$work/chaosbench.out"
echo "worker killed $kills times (SIGKILL every ${EVERY} s, down ${DOWN} s each time)"

# Seats, as the flight service holds them: none held or sold by a booking
# that ended without a flight (expired, cancelled, failed).
ended="$(psql "$BOOKING_DB" -tAc "select coalesce(string_agg(quote_literal(booking_id::text), ','), 'null')
                                  from booking where status in ('expired', 'cancelled', 'failed')")"
taken="$(psql "$FLIGHTS_DB" -tAc "select count(*) from seat where booking_id::text in ($ended)")"
echo "seats held or sold by ended bookings: $taken"
emails="$(psql "$BOOKING_DB" -tAc "select count(*) from email_failure")"
echo "emails given up: $emails"
echo "machine: $(nproc) cores, $(date -u +%F), commit $(git rev-parse --short HEAD)"
if [[ "$taken" != 0 ]]; then verdict=1; fi
exit $verdict
