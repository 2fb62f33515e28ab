#!/usr/bin/env bash
# wait-ready.sh PORT [SECONDS]: waits until http://127.0.0.1:PORT/readyz
# answers 200 (plain bash, no curl needed). Exit 1 on timeout.
set -uo pipefail
port="$1" seconds="${2:-20}"
for _ in $(seq 1 $((seconds * 10))); do
  if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
    printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    read -r -t 2 _ status _ <&3 || true
    exec 3>&-
    [[ "${status:-}" == 200 ]] && exit 0
  fi
  sleep 0.1
done
echo "wait-ready: nothing ready on port $port after ${seconds}s" >&2
exit 1
