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
