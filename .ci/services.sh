# Sourced by .ci/run: installs and starts, on loopback, the real services the tests talk to,
# and stops them when the run ends. Exports what the tests read:
#   SYND_TEST_PG=127.0.0.1:PORT     PostgreSQL 15 (Debian's package), role synd_owner,
#                                   database synd_test, role synd_reader
#   SYND_TEST_OAUTH=http://127.0.0.1:PORT   oauth2-mock-server (npm), an OAuth2 server
#                                   nobody here wrote
#   SYND_REQUIRE_SERVICES=1         the tests fail, rather than skip, without them

SERVICES_DIR="$(mktemp -d /tmp/synd-services.XXXXXX)"
PG_PORT="${SYND_PG_PORT:-54329}"
OAUTH_PORT="${SYND_OAUTH_PORT:-54330}"
OAUTH_PID=""

stop_services() {
    if [ -n "$OAUTH_PID" ]; then kill "$OAUTH_PID" 2>/dev/null || true; fi
    if [ -n "${PG_BIN:-}" ] && [ -f "$SERVICES_DIR/pg/postmaster.pid" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$SERVICES_DIR/pg" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$SERVICES_DIR"
}
trap stop_services EXIT

# Debian's PostgreSQL server, installed when it is not there.
INSTALLED=""
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    INSTALLED=1
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
if [ -n "$INSTALLED" ]; then
    # The package creates (and, where an init system runs, starts) a cluster of its own on
    # 5432; the tests use theirs, and nothing may be left running after the run.
    $SUDO pg_dropcluster --stop "$(basename "$(dirname "$PG_BIN")")" main 2>/dev/null || true
fi

# initdb refuses to run as root: the cluster belongs to the postgres user then.
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
mkdir -p "$SERVICES_DIR/pg"
echo "synd-superuser-secret" > "$SERVICES_DIR/pwfile"
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres "$SERVICES_DIR"
fi
as_postgres "$PG_BIN/initdb" -D "$SERVICES_DIR/pg" -U postgres --pwfile="$SERVICES_DIR/pwfile" \
    -A scram-sha-256 >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$SERVICES_DIR/pg" -w -l "$SERVICES_DIR/pg.log" \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $SERVICES_DIR" start >/dev/null
PGPASSWORD=synd-superuser-secret psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE synd_owner LOGIN PASSWORD 'synd-owner-secret';
CREATE ROLE synd_reader NOLOGIN;
CREATE DATABASE synd_test OWNER synd_owner;
SQL
export SYND_TEST_PG="127.0.0.1:$PG_PORT"

# oauth2-mock-server from the npm registry, run by the machine's Node.js.
mkdir -p "$SERVICES_DIR/oauth"
cp "$(dirname "${BASH_SOURCE[0]}")/oauth-peer/package.json" \
   "$(dirname "${BASH_SOURCE[0]}")/oauth-peer/server.mjs" "$SERVICES_DIR/oauth/"
(cd "$SERVICES_DIR/oauth" && npm install --no-package-lock --no-audit --no-fund --silent >/dev/null)
node "$SERVICES_DIR/oauth/server.mjs" "$OAUTH_PORT" >"$SERVICES_DIR/oauth.log" 2>&1 &
OAUTH_PID=$!
for _ in $(seq 1 150); do
    grep -q '^ready' "$SERVICES_DIR/oauth.log" 2>/dev/null && break
    kill -0 "$OAUTH_PID" 2>/dev/null || { cat "$SERVICES_DIR/oauth.log" >&2; exit 1; }
    sleep 0.2
done
grep -q '^ready' "$SERVICES_DIR/oauth.log" || { echo "the OAuth2 peer did not start" >&2; exit 1; }
export SYND_TEST_OAUTH="http://127.0.0.1:$OAUTH_PORT"

export SYND_REQUIRE_SERVICES=1
