#!/usr/bin/env bash
# Installs (apt) and starts PostgreSQL 15, Redis 7 and RabbitMQ 3.10 on 127.0.0.1 for machines without a container
# runtime. Idempotent: safe to run twice. Works as root, and through sudo otherwise.
#
#   infra/local-servers.sh up              install if missing, start, create the role and databases
#   infra/local-servers.sh env [--tests]   print the environment variables the AppHost (or, --tests, the tests) read
#   infra/local-servers.sh stop|start X    stop/start one server (X = postgres | redis | rabbitmq); tests use this
#   infra/local-servers.sh status          one line per server
#   infra/local-servers.sh drop-test-databases   drop the databases earlier test runs left
#
# Credentials are local-development ones for loopback-only servers; override with the variables below.
set -euo pipefail

PG_USER="${RELIABLESHOP_PG_USER:-reliableshop}"
PG_PASSWORD="${RELIABLESHOP_PG_PASSWORD:-reliableshop-local}"
PG_PORT="${RELIABLESHOP_PG_PORT:-5432}"
REDIS_PORT="${RELIABLESHOP_REDIS_PORT:-6379}"
RABBIT_PORT="${RELIABLESHOP_RABBIT_PORT:-5672}"
PG_MAX_CONNECTIONS=400   # 3 services × replicas × pool + tests; PostgreSQL's default of 100 is too few for drills.

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

log() { echo "[local-servers] $*" >&2; }

install_packages() {
  local missing=()
  [[ -x /usr/lib/postgresql/15/bin/postgres ]] || missing+=(postgresql-15 postgresql-client-15)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  # The benchmarks' side-by-side references (bench/Benchmarks, infra/bench.sh): pgbench ships with the server package
  # on Debian 12 (postgresql-15), redis-benchmark with redis-tools.
  [[ -x /usr/lib/postgresql/15/bin/pgbench ]] || missing+=(postgresql-15)
  command -v redis-benchmark >/dev/null || missing+=(redis-tools)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

as_postgres() { if [[ $(id -u) -eq 0 ]]; then su postgres -c "$*"; else sudo -u postgres bash -c "$*"; fi; }
psql_admin() { as_postgres "psql -p $PG_PORT -v ON_ERROR_STOP=1 -qtAc \"$1\""; }

pg_running() { $SUDO pg_ctlcluster 15 main status >/dev/null 2>&1; }

start_postgres() {
  pg_running || $SUDO pg_ctlcluster 15 main start
  for _ in $(seq 1 60); do as_postgres "pg_isready -q -h 127.0.0.1 -p $PG_PORT" && return 0; sleep 0.5; done
  log "PostgreSQL did not become ready"; return 1
}

configure_postgres() {
  local current
  current=$(psql_admin "SHOW max_connections")
  if [[ "$current" != "$PG_MAX_CONNECTIONS" ]]; then
    log "max_connections $current -> $PG_MAX_CONNECTIONS (restart)"
    psql_admin "ALTER SYSTEM SET max_connections = $PG_MAX_CONNECTIONS"
    $SUDO pg_ctlcluster 15 main restart
    start_postgres
  fi
  if [[ -z "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" ]]; then
    psql_admin "CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
  fi
  for db in orders inventory payments; do
    if [[ -z "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
      psql_admin "CREATE DATABASE $db OWNER $PG_USER"
    fi
  done
}

redis_running() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; }
start_redis() {
  if ! redis_running; then
    $SUDO redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save "" --appendonly no \
      --protected-mode yes --logfile /tmp/reliableshop-redis.log
  fi
  for _ in $(seq 1 40); do redis_running && return 0; sleep 0.25; done
  log "Redis did not become ready"; return 1
}
stop_redis() { redis_running && redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }

# Every rabbitmqctl / rabbitmq-diagnostics call boots an Erlang VM: about a second of CPU each. Tests stop and start the
# broker while the services serve load on the same cores (the outbox drill's outage), so the CLI runs niced and
# readiness is a plain TCP check of the AMQP port; the broker itself keeps its normal priority. A CI rehearsal lost 3
# orders (Inventory lookups past their 1 s attempt timeout) in the 13 s the old start took under load (2026-12-07
# 07:02:47–07:03:00: the broker was only asked to start at 07:02:59). Idle, `start rabbitmq` after `stop rabbitmq`:
# 3.2 s wall and 3.5 s of CPU before, 2.0 s and 1.8 s now (2026-12-07 11:59 UTC).
rabbitmqctl_() { nice -n 10 $SUDO rabbitmqctl "$@"; }
rabbit_node_up() { rabbitmqctl_ -q ping >/dev/null 2>&1; }
rabbit_app_up() { (exec 3<>"/dev/tcp/127.0.0.1/$RABBIT_PORT") 2>/dev/null; }
start_rabbitmq() {
  if rabbit_app_up; then return 0; fi
  if ! rabbit_node_up; then
    # The packaged node listens on all interfaces by default; bind AMQP to loopback.
    if ! grep -q "^NODE_IP_ADDRESS=127.0.0.1" /etc/rabbitmq/rabbitmq-env.conf 2>/dev/null; then
      echo "NODE_IP_ADDRESS=127.0.0.1" | $SUDO tee -a /etc/rabbitmq/rabbitmq-env.conf >/dev/null
    fi
    $SUDO service rabbitmq-server start >/dev/null 2>&1 || $SUDO rabbitmq-server -detached
    rabbitmqctl_ -q await_startup --timeout 90 >/dev/null 2>&1 || true
  fi
  rabbit_app_up || rabbitmqctl_ -q start_app
  for _ in $(seq 1 240); do rabbit_app_up && return 0; sleep 0.25; done
  log "RabbitMQ did not become ready"; return 1
}
# Test runs use their own vhost, so a running AppHost (vhost "/") and a test run never consume each other's messages.
TEST_VHOST="reliableshop-tests"
# The benchmarks (infra/bench.sh) use their own vhost too: their Inventory must not consume a test run's OrderPlaced.
BENCH_VHOST="reliableshop-bench"
configure_rabbitmq() {
  for vhost in "$TEST_VHOST" "$BENCH_VHOST"; do
    rabbitmqctl_ -q list_vhosts | grep -qx "$vhost" || rabbitmqctl_ -q add_vhost "$vhost"
    rabbitmqctl_ -q set_permissions -p "$vhost" guest ".*" ".*" ".*" >/dev/null
  done
}

# stop/start of the broker application only (the Erlang node stays up): a real outage for clients, back in ~2 s.
stop_rabbitmq() { rabbitmqctl_ -q stop_app; }

print_env() {
  cat <<ENV
export RELIABLESHOP_INFRA=local
export RELIABLESHOP_POSTGRES='Host=127.0.0.1;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD'
export RELIABLESHOP_REDIS='127.0.0.1:$REDIS_PORT'
export RELIABLESHOP_RABBITMQ='amqp://guest:guest@127.0.0.1:$RABBIT_PORT/'
ENV
  if [[ "${1:-}" == "--tests" ]]; then
    echo "export RELIABLESHOP_RABBITMQ='amqp://guest:guest@127.0.0.1:$RABBIT_PORT/$TEST_VHOST'"
  fi
}

case "${1:-up}" in
  up)
    install_packages
    start_postgres; configure_postgres
    start_redis
    start_rabbitmq; configure_rabbitmq
    log "PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, RabbitMQ :$RABBIT_PORT are up on 127.0.0.1"
    ;;
  env) print_env "${2:-}" ;;
  stop)
    case "${2:?server}" in
      postgres) $SUDO pg_ctlcluster 15 main stop -m fast ;;
      redis) stop_redis ;;
      rabbitmq) stop_rabbitmq ;;
      *) log "unknown server $2"; exit 2 ;;
    esac ;;
  start)
    case "${2:?server}" in
      postgres) start_postgres ;;
      redis) start_redis ;;
      rabbitmq) start_rabbitmq ;;
      *) log "unknown server $2"; exit 2 ;;
    esac ;;
  reset-test-state)
    # Before a test run: a fresh test vhost (an interrupted run can leave OrderPlaced messages in its queues, which the
    # next run's Inventory would consume as orders it never saw) and an empty Redis (cached catalog items carry the
    # versions of databases that no longer exist). Development state (vhost "/", the AppHost's databases) is untouched.
    rabbitmqctl_ -q delete_vhost "$TEST_VHOST" >/dev/null 2>&1 || true
    configure_rabbitmq
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" FLUSHALL >/dev/null
    log "test vhost $TEST_VHOST recreated, Redis flushed"
    ;;
  drop-test-databases)
    # Databases made by test runs: t_* (per test class) and st*_* (per System.Tests run).
    as_postgres "psql -p $PG_PORT -qtA -v ON_ERROR_STOP=1" >/dev/null <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', datname) FROM pg_database
WHERE datname LIKE 't\_%' OR datname ~ '^st[0-9a-f]{8}_' \gexec
SQL
    ;;
  status)
    pg_running && echo "postgres up" || echo "postgres down"
    redis_running && echo "redis up" || echo "redis down"
    rabbit_app_up && echo "rabbitmq up" || echo "rabbitmq down"
    ;;
  *) echo "usage: $0 up|env|stop X|start X|status|reset-test-state|drop-test-databases" >&2; exit 2 ;;
esac
