#!/usr/bin/env bash
# The one run command: starts the servers (Docker if it runs, else installed locally) and the AppHost with its dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${RELIABLESHOP_POSTGRES:-}" ]] && ! docker info >/dev/null 2>&1; then
  infra/local-servers.sh up
  eval "$(infra/local-servers.sh env)"
fi
cat <<'MSG'

ReliableShop is starting. Dashboard: http://localhost:15888 (the login link with its token is printed below).
Place an order once "ordering" is Running:

  curl -s -X POST http://localhost:5100/api/orders -H 'Content-Type: application/json' \
       -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" \
       -d '{"customerId":"c-1","items":[{"sku":"SKU-0001","quantity":2}]}'

  curl -s http://localhost:5100/api/orders/<id>      # Placed → Reserved → Confirmed within a second or two

MSG
exec dotnet run --project AppHost --launch-profile http
