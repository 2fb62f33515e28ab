#!/usr/bin/env bash
# Ensures the project-local Python venv (.dev/venv) with the local stack's
# tools. Reinstalls only when temporal-dev/requirements.txt changes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.dev/venv"
req="$root/temporal-dev/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -x "$venv/bin/temporal" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
python="${PYTHON:-python3}"
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "venv: installing python3-venv (Debian)" >&2
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
  else
    echo "venv: python3 lacks venv/ensurepip; install python3-venv" >&2
    exit 1
  fi
fi
echo "venv: creating $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
echo "venv: ready ($("$venv/bin/temporal" --version))" >&2
