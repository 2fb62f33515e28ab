# Sourced by the other scripts: the project's defaults, each overridable by
# the environment. Ensures PostgreSQL and exports the database URLs.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
PG_SERVER_URL="$("$root/scripts/postgres.sh")"
export PG_SERVER_URL
# DATABASE_URL is the admin connection tests create their databases from.
export DATABASE_URL="${DATABASE_URL:-$PG_SERVER_URL}"
export FLIGHTS_DATABASE_URL="${FLIGHTS_DATABASE_URL:-$("$root/scripts/db-url.sh" "$PG_SERVER_URL" airline_flights)}"
export FLIGHTS_SERVICE_TOKEN="${FLIGHTS_SERVICE_TOKEN:-dev-flights-service-token}"
export FLIGHTS_PORT="${FLIGHTS_PORT:-8081}"
export BOOKING_DATABASE_URL="${BOOKING_DATABASE_URL:-$("$root/scripts/db-url.sh" "$PG_SERVER_URL" airline_booking)}"
# The worker's view of the local stack (temporal-dev/stack.sh's ports).
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:${TEMPORAL_PORT:-7233}}"
export FLIGHTS_URL="${FLIGHTS_URL:-http://127.0.0.1:$FLIGHTS_PORT}"
export STRIPE_SECRET_KEY="${STRIPE_SECRET_KEY:-sk_test_local_dev}"
export STRIPE_API_BASE="${STRIPE_API_BASE:-http://127.0.0.1:${STRIPE_PORT:-8420}}"
export SMTP_HOST="${SMTP_HOST:-127.0.0.1}"
export SMTP_PORT="${SMTP_PORT:-2525}"
# Texts through Kannel (temporal-dev/stack.sh's `sms`, its fake SMSC); its
# delivery reports come back to the worker's HTTP endpoint.
export KANNEL_PORT="${KANNEL_PORT:-13013}"
export KANNEL_SENDSMS_URL="${KANNEL_SENDSMS_URL:-http://127.0.0.1:$KANNEL_PORT/cgi-bin/sendsms}"
export KANNEL_USER="${KANNEL_USER:-airline}"
export KANNEL_PASSWORD="${KANNEL_PASSWORD:-dev-only-kannel-password}"
export SMS_DLR_BASE_URL="${SMS_DLR_BASE_URL:-http://127.0.0.1:8082}"
export SMS_DLR_TOKEN="${SMS_DLR_TOKEN:-dev-only-sms-dlr-token}"
# The dev secrets this file publishes work only with AIRLINE_ENV=development:
# every service refuses them otherwise (kit/src/config.rs).
export AIRLINE_ENV="${AIRLINE_ENV:-development}"
# The gateway's (dev-only secrets; production sets its own).
export API_PORT="${API_PORT:-8080}"
export JWT_SECRET="${JWT_SECRET:-dev-only-jwt-secret-change-me-0123456789}"
export STRIPE_WEBHOOK_SECRET="${STRIPE_WEBHOOK_SECRET:-whsec_local_dev}"
# The web app's Stripe.js: localstripe's, with a publishable key it takes.
export STRIPE_JS_URL="${STRIPE_JS_URL:-http://127.0.0.1:${STRIPE_PORT:-8420}/js.stripe.com/v3/}"
export STRIPE_PUBLISHABLE_KEY="${STRIPE_PUBLISHABLE_KEY:-pk_test_local_dev}"
export ADMIN_EMAIL="${ADMIN_EMAIL:-admin@airline.local}"
export ADMIN_PASSWORD="${ADMIN_PASSWORD:-admin-password-dev}"
# Temporal payload encryption for the gateway, the worker and bookingbench
# (a dev-only key; production's come from its secret store), and the codec
# endpoint the local Web UI calls to show payloads in plain text: the dev
# Web UI has no sign-in, so in development (only) the endpoint runs on the
# loopback internal listener without a credential when CODEC_CORS_ORIGINS
# is set; production verifies the operators' tokens (CODEC_JWKS_URL,
# CODEC_ISSUER, CODEC_AUDIENCE; docs/ops.md).
export PAYLOAD_ENCRYPTION_KEYS="${PAYLOAD_ENCRYPTION_KEYS:-dev-1=ZGV2LW9ubHktcGF5bG9hZC1rZXktY2hhbmdlLW1lISE=}"
export API_METRICS_ADDR="${API_METRICS_ADDR:-127.0.0.1:9465}"
export CODEC_CORS_ORIGINS="${CODEC_CORS_ORIGINS:-http://127.0.0.1:${TEMPORAL_UI_PORT:-8233},http://localhost:${TEMPORAL_UI_PORT:-8233}}"
