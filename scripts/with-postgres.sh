#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server (Debian `postgresql` package): initdb in a
# temporary directory as an unprivileged user, a free loopback port, the unix socket in the same
# directory, stopped and deleted when the command ends. Exports HEARTH_TEST_PG_URL for it (the
# store contract suite and tests/e2e/test_postgres.py use it). When no server can be started the
# command still runs, without HEARTH_TEST_PG_URL, and the reason is printed; the PostgreSQL tests
# then skip with that reason.
# Usage: scripts/with-postgres.sh <command> [args...]
set -euo pipefail

run_without() {
  echo "with-postgres: PostgreSQL tests skipped: $1" >&2
  shift
  unset HEARTH_TEST_PG_URL
  exec "$@"
}

if [[ $# -eq 0 ]]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

bindir=""
for dir in /usr/lib/postgresql/*/bin; do
  [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && bindir="$dir"
done
[[ -n "$bindir" ]] || run_without "no initdb/pg_ctl (Debian package postgresql is not installed)" "$@"

# PostgreSQL refuses to run as root: use the `postgres` user the Debian package creates.
as_user=()
if [[ $(id -u) -eq 0 ]]; then
  id -u postgres >/dev/null 2>&1 || run_without "running as root and there is no postgres user" "$@"
  command -v runuser >/dev/null || run_without "running as root without runuser" "$@"
  as_user=(runuser -u postgres --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/hearth-pg.XXXXXX")
chmod 755 "$dir"
[[ $(id -u) -eq 0 ]] && chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

if ! "${as_user[@]}" "$bindir/initdb" -D "$dir/data" -U hearth --auth=trust -E UTF8 --no-sync \
     >"$dir/initdb.log" 2>&1; then
  cat "$dir/initdb.log" >&2
  trap - EXIT
  cleanup
  run_without "initdb failed" "$@"
fi
# fsync off: a test server, thrown away at the end; crash safety is not what is measured.
if ! "${as_user[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
     -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
     >/dev/null 2>&1; then
  cat "$dir/server.log" >&2 || true
  trap - EXIT
  cleanup
  run_without "the server did not start" "$@"
fi

export HEARTH_TEST_PG_URL="postgresql://hearth@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at $HEARTH_TEST_PG_URL" >&2
set +e
"$@"
status=$?
set -e
exit $status
