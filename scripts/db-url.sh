#!/usr/bin/env bash
# db-url.sh SERVER_URL DBNAME: the server URL with its database replaced.
set -euo pipefail
python3 - "$1" "$2" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))
PY
