#!/usr/bin/env bash
# The benchmark command: B1–B10 of docs/benchmarks.md on this machine, each beside its reference measured in the
# same run (pgbench, redis-benchmark, raw RabbitMQ.Client, a bare minimal API). Prints one table.
#   infra/bench.sh            full run (warm-up, median of 3; ~10 min): writes docs/benchmarks.md and its PNG charts
#   infra/bench.sh --quick    smoke check (< 2 min): writes artifacts/bench/benchmarks.md
# CPU-heavy: on a shared machine run the full run alone (e.g. under `flock /tmp/systest.lock`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${RELIABLESHOP_POSTGRES:-}" ]]; then
  infra/local-servers.sh up
  eval "$(infra/local-servers.sh env)"
fi
dotnet build bench/Benchmarks -c Release -nologo -clp:ErrorsOnly
exec dotnet bench/Benchmarks/bin/Release/net10.0/Benchmarks.dll "$@"
