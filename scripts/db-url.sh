#!/usr/bin/env bash
# db-url.sh SERVER_URL DBNAME: the server URL with its database replaced
# (query parameters kept).
set -euo pipefail
url="$1" db="$2"
if [[ "$url" =~ ^([a-z]+://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
  echo "${BASH_REMATCH[1]}/$db${BASH_REMATCH[3]}"
else
  echo "db-url: not a postgres URL: $url" >&2
  exit 1
fi
