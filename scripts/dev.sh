#!/usr/bin/env bash
# `make dev`: the whole local stack in the foreground until Ctrl-C, then
# everything it started is stopped.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$root"

started_stack=0
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "dev: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $started_stack -eq 1 ]]; then temporal-dev/stack.sh stop; fi
  scripts/postgres.sh stop
}
trap cleanup INT TERM EXIT

scripts/venv.sh
echo "dev: building the services"
cargo build --bin flights --bin worker --bin api
started_stack=1
temporal-dev/stack.sh start

./target/debug/flights migrate
./target/debug/flights seed --days "${SEED_DAYS:-60}"

./target/debug/flights serve &
pids+=($!)
scripts/wait-ready.sh "$FLIGHTS_PORT"

./target/debug/worker migrate
./target/debug/worker &
pids+=($!)

./target/debug/api migrate
./target/debug/api serve &
pids+=($!)
scripts/wait-ready.sh "$API_PORT"

# localstripe delivers its events to the gateway's webhook, signed with
# STRIPE_WEBHOOK_SECRET, as Stripe does in production: a payment confirmed
# at the provider (3-D Secure in the browser) confirms the booking.
.dev/venv/bin/python - <<PY
import urllib.parse, urllib.request
data = urllib.parse.urlencode({
    "url": "http://127.0.0.1:$API_PORT/api/v1/webhooks/stripe",
    "secret": "$STRIPE_WEBHOOK_SECRET",
}).encode()
urllib.request.urlopen("http://127.0.0.1:${STRIPE_PORT:-8420}/_config/webhooks/gateway", data).read()
PY

cat <<INFO

  The local stack is up (Ctrl-C stops everything):
    web app            http://127.0.0.1:$API_PORT/   (sign up, search, pick seats, pay with 4242 4242 4242 4242)
    gateway (public)   http://127.0.0.1:$API_PORT/api/v1   (OpenAPI: /api/v1/openapi.json; admin: \$ADMIN_EMAIL / \$ADMIN_PASSWORD)
                       metrics (internal) http://${API_METRICS_ADDR:-127.0.0.1:9465}/metrics
    flight service     http://127.0.0.1:$FLIGHTS_PORT/api/v1/flights   (service token: \$FLIGHTS_SERVICE_TOKEN)
    Temporal gRPC      127.0.0.1:${TEMPORAL_PORT:-7233}
    Temporal Web UI    http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}
    localstripe        http://127.0.0.1:${STRIPE_PORT:-8420}   (webhooks to the gateway's /api/v1/webhooks/stripe)
    SMTP sink          127.0.0.1:${SMTP_PORT:-2525}  -> .dev/mail/*.eml
    SMS (Kannel)       sendsms http://127.0.0.1:$KANNEL_PORT/cgi-bin/sendsms; its fake SMSC's messages -> .dev/sms/messages.jsonl
                       (a booking with contact_phone gets texts; delivery reports go to the worker's /sms/dlr)
    booking worker     task queue bookings; /healthz, /readyz, booking metrics http://127.0.0.1:8082/metrics;
                       Temporal worker metrics http://127.0.0.1:9464/metrics
    PostgreSQL         ${FLIGHTS_DATABASE_URL}
                       ${BOOKING_DATABASE_URL}

INFO
wait -n "${pids[@]}"
