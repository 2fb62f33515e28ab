#!/usr/bin/env bash
# A PostgreSQL cluster of its own for the benchmarks, in .dev/bench-pg, with
# settings a production server of this size would have (the distribution's
# defaults size shared_buffers at 128 MB, far below 100,000 flights' seats).
# Prints its URL. `bench-postgres.sh stop` stops it. BENCH_PG_DIR and
# BENCH_PG_PORT move it (the smoke runs' own: scripts/bench-common.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${BENCH_PG_DIR:-$root/.dev/bench-pg}"
port="${BENCH_PG_PORT:-55433}"
bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ "${1:-}" == "stop" ]]; then
  if [[ -f "$dir/data/postmaster.pid" ]]; then as_pg "$(bindir)/pg_ctl" -D "$dir/data" -m fast stop >/dev/null; fi
  exit 0
fi
if [[ -z "$(bindir)" ]]; then
  if [[ $(id -u) -ne 0 ]]; then echo "bench-postgres: install postgresql (needs root)" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
bin="$(bindir)"
mkdir -p "$dir"
if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
if [[ ! -f "$dir/data/PG_VERSION" ]]; then
  echo "bench-postgres: initialising $dir/data" >&2
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  cat >>"$dir/data/postgresql.conf" <<CONF
# Benchmark cluster: sized for this machine (2 cores, 24 GiB), durable commits.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 100
shared_buffers = 4GB
effective_cache_size = 12GB
work_mem = 8MB
maintenance_work_mem = 1GB
wal_buffers = 64MB
max_wal_size = 16GB
checkpoint_timeout = 30min
random_page_cost = 1.1
synchronous_commit = on
jit = off
CONF
fi
if ! answers "$port"; then
  # Not holding a smoke's lock (bench-common.sh's fd 9) past its run.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null 9>&-
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
