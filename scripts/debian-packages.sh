#!/usr/bin/env bash
# Installs the Debian packages whose file is missing:
#   scripts/debian-packages.sh <package>=<file it provides> ...
# (apt-get as root; otherwise it says what to install and fails).
set -euo pipefail
missing=()
for spec in "$@"; do
  pkg="${spec%%=*}" file="${spec#*=}"
  if [[ "$file" == /* ]]; then [[ -x "$file" ]] || missing+=("$pkg")
  else command -v "$file" >/dev/null || missing+=("$pkg"); fi
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -eq 0 ]]; then
  echo "installing ${missing[*]} (Debian)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing ${missing[*]}; install Debian's packages: ${missing[*]}" >&2
  exit 1
fi
