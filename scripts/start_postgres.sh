#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the distributed-sweep test and print its URL.
#
#   url=$(bash scripts/start_postgres.sh)      # stdout is only the URL; progress goes to stderr
#   bash scripts/start_postgres.sh stop        # stop it again
#
# Idempotent: installs PostgreSQL with apt only when no server binaries exist, initialises the data
# directory only once, and reuses a server that is already answering on the port. Loopback only,
# `trust` authentication: never point this at a machine other people can reach.
# Settings: CNN_DOCTOR_PG_PORT (55432), CNN_DOCTOR_PG_DIR (/tmp/cnn-doctor-pg).
set -euo pipefail

PORT="${CNN_DOCTOR_PG_PORT:-55432}"
DATA_DIR="${CNN_DOCTOR_PG_DIR:-/tmp/cnn-doctor-pg}"
DB=cnn_doctor_test
ROLE=cnn_doctor
PASSWORD=cnn_doctor

log() { echo "start_postgres: $*" >&2; }

find_bindir() {
  local v
  for v in 17 16 15 14 13; do
    if [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]; then
      echo "/usr/lib/postgresql/$v/bin"
      return 0
    fi
  done
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pg_ctl" ]; then
    pg_config --bindir
    return 0
  fi
  return 1
}

BIN="$(find_bindir || true)"
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
    exit 1
  fi
  log "installing postgresql with apt-get (one time)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  BIN="$(find_bindir)"
fi

# Server processes refuse to run as root: use the postgres account when we are root.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  as_pg() { runuser -u postgres -- "$@"; }
  SUPERUSER=postgres
else
  as_pg() { "$@"; }
  SUPERUSER="$(id -un)"
fi

if [ "${1:-}" = "stop" ]; then
  if [ -s "$DATA_DIR/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -m fast -w stop >&2
  else
    log "no server running from $DATA_DIR"
  fi
  exit 0
fi

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [ ! -s "$DATA_DIR/PG_VERSION" ]; then
    log "initialising $DATA_DIR"
    mkdir -p "$DATA_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$DATA_DIR"; fi
    chmod 700 "$DATA_DIR"
    as_pg "$BIN/initdb" -D "$DATA_DIR" -U "$SUPERUSER" -A trust --no-sync >/dev/null
  fi
  log "starting server on 127.0.0.1:$PORT"
  # fsync off: a test database is thrown away anyway, and fsync dominates its run time.
  as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -l "$DATA_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA_DIR -c fsync=off -c max_connections=200" \
    start >&2
fi

psql_admin() {
  as_pg "$BIN/psql" -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres -tAq "$@"
}
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
  psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >&2
fi

echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
