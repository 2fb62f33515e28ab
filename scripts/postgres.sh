#!/usr/bin/env bash
# Prints a PostgreSQL server URL (its database is the admin database that
# the project's own databases are created from):
#   1. $DATABASE_URL when set;
#   2. else the server on 127.0.0.1:5432 when it answers (user postgres);
#   3. else (or with DEV_PG_PRIVATE=1) a private cluster in $DEV_PG_DIR
#      (default .dev/pg) on port $DEV_PG_PORT (default 55432), installing
#      Debian's postgresql first when it is missing.
# `scripts/postgres.sh stop` stops the private cluster if this script started it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pgdir="${DEV_PG_DIR:-$root/.dev/pg}"
port="${DEV_PG_PORT:-55432}"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_pg() {
  # initdb and postgres refuse to run as root.
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [[ "${1:-}" == "stop" ]]; then
  if [[ -f "$pgdir/data/postmaster.pid" ]]; then as_pg "$(bindir)/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null; fi
  exit 0
fi

if [[ -n "${DATABASE_URL:-}" ]]; then
  echo "$DATABASE_URL"
  exit 0
fi

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# DEV_PG_PRIVATE=1 skips the local server (to use or test the private cluster).
if [[ "${DEV_PG_PRIVATE:-0}" != 1 ]] && answers 5432; then
  echo "postgres://postgres@127.0.0.1:5432/postgres"
  exit 0
fi

if [[ -z "$(bindir)" ]]; then
  echo "postgres: no server found; installing Debian's postgresql" >&2
  if [[ $(id -u) -ne 0 ]]; then echo "postgres: need root to apt-get install postgresql, or set DATABASE_URL" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # The package may start its own cluster on 5432; use it if so.
  if [[ "${DEV_PG_PRIVATE:-0}" != 1 ]] && answers 5432; then echo "postgres://postgres@127.0.0.1:5432/postgres"; exit 0; fi
fi
bin="$(bindir)"
mkdir -p "$pgdir"
if [[ $(id -u) -eq 0 ]]; then
  chown postgres:postgres "$pgdir"
  if ! runuser -u postgres -- test -w "$pgdir"; then
    echo "postgres: the postgres user cannot reach $pgdir (a parent folder is private);" >&2
    echo "          move the checkout, or set DATABASE_URL to a server" >&2
    exit 1
  fi
fi
if [[ ! -f "$pgdir/data/PG_VERSION" ]]; then
  echo "postgres: initialising a private cluster in $pgdir/data" >&2
  as_pg "$bin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
fi
if ! answers "$port"; then
  echo "postgres: starting the private cluster on 127.0.0.1:$port" >&2
  as_pg "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k $pgdir" start >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
