#!/usr/bin/env bash
# Publish one event over HTTP. A 202 means RabbitMQ confirmed it; anything else means
# it was not accepted: send it again with the same id (hookpost delivers an id once).
#
#   publish_http.sh API_URL API_KEY TYPE DATA_JSON EVENT_ID
set -euo pipefail
if (($# != 5)); then
  echo "usage: $0 API_URL API_KEY TYPE DATA_JSON EVENT_ID" >&2
  exit 2
fi
api=$1 key=$2 type=$3 data=$4 id=$5
for attempt in 1 2 3 4 5; do
  status=$(curl -s -o /dev/stderr -w '%{http_code}' "$api/v1/events" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "{\"id\": \"$id\", \"type\": \"$type\", \"data\": $data}") || status=000
  echo >&2
  case $status in
    202) echo "published $id"; exit 0 ;;
    4[0-9][0-9]) [[ $status == 429 ]] || { echo "refused: HTTP $status" >&2; exit 1; } ;;
  esac
  sleep "$attempt" # 429, 503 or no answer: again, later, with the same id
done
echo "not accepted after 5 tries: HTTP $status" >&2
exit 1
