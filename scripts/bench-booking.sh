#!/usr/bin/env bash
# `make bench-booking`: bookings end to end through the booking workflow
# (update-with-start until the seats are held, then pay until confirmed)
# against the whole local stack started here on bench ports — Temporal dev
# server (WAL SQLite), flight service, localstripe, SMTP sink, PostgreSQL
# (scripts/bench-postgres.sh), the release `worker` — then the same client
# contract against a no-op workflow with no activities (answered from the
# first task, the payment from one task, the window and reminder timers,
# the same search attribute writes), as the ceiling; the history of a
# confirmed booking (events, workflow tasks); then 5,000 bookings left
# awaiting payment for the worker's memory.
# BENCH_BOOKINGS (500), BENCH_CONCURRENCY (50), BENCH_AWAITING (5000).
# BENCH_SMOKE=1 (scripts/bench-common.sh): 10 bookings a run, 5 at a time,
# 20 awaiting payment, no warm-up. Fails if a booking fails or a seat is
# lost.
set -euo pipefail
BENCH_NAME=bench-booking
source "$(dirname "$0")/bench-stack.sh"
if [[ "$smoke" == 1 ]]; then
  BOOKINGS="${BENCH_BOOKINGS:-10}" CONCURRENCY="${BENCH_CONCURRENCY:-5}" AWAITING="${BENCH_AWAITING:-20}" WARMUP=0
else
  BOOKINGS="${BENCH_BOOKINGS:-500}" CONCURRENCY="${BENCH_CONCURRENCY:-50}" AWAITING="${BENCH_AWAITING:-5000}" WARMUP=20
fi
# The 5,000 unpaid bookings must still be awaiting payment when measured.
export PAYMENT_WINDOW="${PAYMENT_WINDOW:-30m}"
# The gateway's tables (bookingbench writes each booking's owner record,
# as the gateway does; the worker holds seats for no other booking).
BOOKING_DATABASE_URL="$BOOKING_DB" RUST_LOG=warn "$bin/api" migrate
export BOOKING_DATABASE_URL="$BOOKING_DB"
bb=("$bin/bookingbench" --temporal "127.0.0.1:$T_PORT")

# Warm-up: connections, caches, the first workflow tasks.
if (( WARMUP > 0 )); then
  out="$("${bb[@]}" --bookings $WARMUP --concurrency 10 pay --flights "$work/flights.txt")" || { echo "$out"; exit 1; }
fi
# Ceiling and booking runs in the order A B B A, so that a drift of the
# machine or the dev server's growing database weighs on both alike.
pay() { "${bb[@]}" --bookings "$BOOKINGS" --concurrency "$CONCURRENCY" pay --flights "$work/flights.txt"; }
noop() { "${bb[@]}" --bookings "$BOOKINGS" --concurrency "$CONCURRENCY" noop --search-attributes; }
rate() { sed -n 's/.*: \([0-9.]*\) bookings\/s.*/\1/p' <<<"$1" | head -1; }
# CPU time (user + system, in clock ticks) each part of the stack spent:
# where a booking's cost goes on these shared cores, beside the ceiling's.
postmaster="$(head -1 "${BENCH_PG_DIR:-$root/.dev/bench-pg}/data/postmaster.pid")"
ticks() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
cpu_now() {
  echo "$(ticks "${pids[0]}") $(ticks "${pids[1]}") $(ticks "${pids[2]}") $(ticks "${pids[3]}") $(ticks "$worker") $(ticks "$postmaster" $(pgrep -P "$postmaster"))"
}
hz="$(getconf CLK_TCK)"
# cpu_report BEFORE AFTER CLIENT_TICKS: CPU milliseconds per booking, by part.
cpu_report() {
  awk -v b="$1" -v a="$2" -v c="$3" -v n="$BOOKINGS" -v hz="$hz" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    split("temporal localstripe smtp flights worker postgres", name, " ");
    line = "  CPU ms per booking:"; total = 0;
    for (i = 1; i <= 6; i++) { ms = (y[i] - x[i]) * 1000 / hz / n; total += ms; line = line sprintf(" %s %.1f,", name[i], ms) }
    ms = c * 1000 / hz / n; total += ms;
    printf "%s bench client %.1f; total %.1f\n", line, ms, total }'
}
# measured CMD...: runs CMD, prints its output and its CPU per booking;
# fails as CMD does (bookingbench fails if a booking failed).
measured() {
  local before after out client status=0
  before="$(cpu_now)"
  out="$("$@")" || status=$?
  after="$(cpu_now)"
  echo "$out"
  (( status == 0 )) || return $status
  client="$(sed -n 's/^  client CPU ticks: \([0-9]*\)$/\1/p' <<<"$out")"
  cpu_report "$before" "$after" "${client:-0}"
}
# run VAR CMD: `measured CMD` into VAR and printed; the script stops if it failed.
run() {
  local out
  if ! out="$(measured "${@:2}")"; then echo "$out"; echo "bench: $2 failed" >&2; exit 1; fi
  printf -v "$1" '%s' "$out"
  echo "$out"
}
run noop1 noop
run pay1 pay
echo "  worker peak RSS so far: $(rss $worker VmHWM)"
run pay2 pay
run noop2 noop
awk -v a="$(rate "$pay1")" -v b="$(rate "$pay2")" -v c="$(rate "$noop1")" -v d="$(rate "$noop2")" \
  'BEGIN { printf "booking %.1f/s vs no-op ceiling %.1f/s (means of two runs each): ratio %.2f (target >= 0.8)\n", (a + b) / 2, (c + d) / 2, (a + b) / (c + d) }'

"${bb[@]}" --bookings "$AWAITING" --concurrency 100 hold --flights "$work/flights.txt"
echo "  worker with $AWAITING bookings awaiting payment: RSS $(rss $worker VmRSS), peak $(rss $worker VmHWM) (target < 150 MB)"
# Every paid booking sold its seat, every unpaid one holds its own.
check_seats "$FLIGHTS_DB" "$work/flights.txt" "$AWAITING" $((WARMUP + 2 * BOOKINGS))
