#!/usr/bin/env bash
# The local stack's third-party pieces, each usable on its own:
#   temporal-dev/stack.sh start|stop|status [temporal] [stripe] [smtp] [sms]
# (no names = all four). Processes run in the background; pid files are in
# .dev/run, logs in .dev/log, Temporal's data in .dev/temporal.db, mail in
# .dev/mail, text messages in .dev/sms/messages.jsonl (Kannel with its fake
# SMSC, temporal-dev/kannel.py). Ports: TEMPORAL_PORT (7233),
# TEMPORAL_UI_PORT (8233), STRIPE_PORT (8420), SMTP_PORT (2525),
# KANNEL_PORT (13013, Kannel's sendsms).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dev="$root/.dev"
run="$dev/run"
log="$dev/log"
venv="$dev/venv"
mkdir -p "$run" "$log" "$dev/mail"

TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
STRIPE_PORT="${STRIPE_PORT:-8420}"
SMTP_PORT="${SMTP_PORT:-2525}"
KANNEL_PORT="${KANNEL_PORT:-13013}"

# The booking workflow's search attributes (README, "Seeing bookings in the Temporal Web UI"); never personal data.
SEARCH_ATTRIBUTES=(
  BookingStatus=Keyword FlightNumber=Keyword DepartureTime=Datetime
  UserId=Keyword BookingRef=Keyword
)

port_of() {
  case "$1" in
    temporal) echo "$TEMPORAL_PORT" ;;
    stripe) echo "$STRIPE_PORT" ;;
    smtp) echo "$SMTP_PORT" ;;
    sms) echo "$KANNEL_PORT" ;;
  esac
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() {
  local pidfile="$run/$1.pid"
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

launch() {
  local name="$1"
  case "$name" in
    temporal)
      local args=(server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT"
        --ui-port "$TEMPORAL_UI_PORT" --db-filename "$dev/temporal.db"
        --sqlite-pragma journal_mode=wal --log-level warn
        # The CLI forces a search-attribute cache refresh (a database read
        # on the dev server's one SQLite connection) on every lookup; ours
        # are registered at start and never change.
        --dynamic-config-value system.forceSearchAttributesCacheRefreshOnRead=false
        # Payloads are encrypted: the Web UI decodes them through the
        # gateway's codec endpoint (the loopback internal listener; no
        # sign-in in development: this UI has none to pass a token from).
        --ui-codec-endpoint "http://${API_METRICS_ADDR:-127.0.0.1:9465}/codec")
      for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
      setsid "$venv/bin/temporal" "${args[@]}" >>"$log/temporal.log" 2>&1 &
      ;;
    stripe)
      setsid "$venv/bin/python" "$root/temporal-dev/localstripe_memory.py" --port "$STRIPE_PORT" \
        >>"$log/stripe.log" 2>&1 &
      ;;
    smtp)
      setsid "$venv/bin/python" "$root/temporal-dev/smtp_sink.py" --port "$SMTP_PORT" \
        --mail-dir "$dev/mail" >>"$log/smtp.log" 2>&1 &
      ;;
    sms)
      "$root/scripts/debian-packages.sh" kannel=/usr/sbin/bearerbox kannel-extras=/usr/lib/kannel/test/fakesmsc
      setsid "$venv/bin/python" "$root/temporal-dev/kannel.py" --port "$KANNEL_PORT" \
        --dir "$dev/sms" --user "${KANNEL_USER:-airline}" \
        --password "${KANNEL_PASSWORD:-dev-only-kannel-password}" >>"$log/sms.log" 2>&1 &
      ;;
    *) echo "unknown service: $name" >&2; exit 2 ;;
  esac
  echo $! >"$run/$name.pid"
}

start() {
  local name="$1" port
  port="$(port_of "$name")"
  if running "$name"; then echo "$name: already running (port $port)"; return; fi
  if answers "$port"; then echo "$name: port $port is taken by another process" >&2; exit 1; fi
  "$root/scripts/venv.sh"
  launch "$name"
  for _ in $(seq 1 150); do
    if answers "$port"; then echo "$name: up on 127.0.0.1:$port"; return; fi
    if ! running "$name"; then break; fi
    sleep 0.2
  done
  echo "$name: failed to start; see $log/$name.log" >&2
  tail -n 20 "$log/$name.log" >&2 || true
  exit 1
}

stop() {
  local name="$1" pid
  if ! running "$name"; then rm -f "$run/$name.pid"; echo "$name: not running"; return; fi
  pid="$(cat "$run/$name.pid")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$run/$name.pid"
  echo "$name: stopped"
}

status() {
  local name="$1"
  if running "$name"; then echo "$name: running (pid $(cat "$run/$name.pid"), port $(port_of "$name"))"
  else echo "$name: stopped"; fi
}

cmd="${1:-status}"
shift || true
names=("$@")
[[ ${#names[@]} -eq 0 ]] && names=(temporal stripe smtp sms)
for n in "${names[@]}"; do
  case "$cmd" in
    start) start "$n" ;;
    stop) stop "$n" ;;
    status) status "$n" ;;
    *) echo "usage: $0 start|stop|status [temporal] [stripe] [smtp] [sms]" >&2; exit 2 ;;
  esac
done
