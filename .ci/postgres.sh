#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, from Debian's packages: `source` this file and
# call `pg_start`; it installs the server if missing, runs initdb as the `postgres` user in a
# temporary directory, listens on 127.0.0.1 (a free port) and on a unix socket in that
# directory, exports the URLs the tests read, and registers `pg_stop` to run on every exit.
#
# Exported:
#   FCNSWEEP_TEST_PG          superuser URL over TCP (password auth)
#   FCNSWEEP_TEST_PG_SOCKET   the unix socket directory (trust auth)
#   FCNSWEEP_TEST_PG_RESTART  a command that restarts the server (fast shutdown)

pg_bin() {
  local b
  for b in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")" /usr/lib/postgresql/*/bin; do
    if [ -x "$b/initdb" ] && [ -x "$b/pg_ctl" ]; then
      echo "$b"
      return 0
    fi
  done
  return 1
}

pg_start() {
  local bin
  if ! bin="$(pg_bin)"; then
    echo "PostgreSQL is not installed: installing Debian's package" >&2
    apt-get install -y -q postgresql >/dev/null
    bin="$(pg_bin)" || { echo "error: no initdb after installing postgresql" >&2; return 1; }
  fi
  PG_DIR="$(mktemp -d /tmp/fcnsweep-pg.XXXXXX)"
  chown postgres: "$PG_DIR"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  echo fcnsweep-test > "$PG_DIR/pwfile"
  chown postgres: "$PG_DIR/pwfile"
  runuser -u postgres -- "$bin/initdb" -D "$PG_DIR/data" -U postgres --pwfile="$PG_DIR/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  PG_CTL="runuser -u postgres -- $bin/pg_ctl -D $PG_DIR/data -l $PG_DIR/server.log -w"
  local opts="-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c max_connections=300"
  $PG_CTL -o "$opts" start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
  trap pg_stop EXIT
  export FCNSWEEP_TEST_PG="postgres://postgres:fcnsweep-test@127.0.0.1:$port/postgres"
  export FCNSWEEP_TEST_PG_SOCKET="$PG_DIR"
  export FCNSWEEP_TEST_PG_RESTART="$PG_CTL -m fast -o '$opts' restart"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $PG_DIR)" >&2
}

pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    $PG_CTL -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
