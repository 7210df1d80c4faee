# shellcheck shell=bash
# Throwaway PostgreSQL + Redis (and the Chromium the browser tests drive) for the test suite.  Meant to be *sourced*:
#
#     source scripts/services.sh && .venv/bin/python -m pytest
#
# Starts both servers on free 127.0.0.1 ports, exports DATABASE_URL,
# CELERY_BROKER_URL and STIMULANS_TEST_SERVICES=1, and installs an EXIT trap
# that stops the servers and deletes their temp dirs.  Missing Debian packages
# are installed when running as root; otherwise we exit naming them.
# On fatal errors it calls `exit`, i.e. it ends the shell that sourced it.

_svc_die() { echo "services.sh: $*" >&2; exit 1; }

# Directory with initdb/pg_ctl/postgres of the highest PostgreSQL version
# found on PATH or in /usr/lib/postgresql/*/bin (empty if none).
_svc_find_pg_bin() {
    local d p=""
    p=$(command -v pg_ctl 2>/dev/null) && p=$(dirname "$(readlink -f "$p")")
    for d in $p /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] || continue
        # "postgres (PostgreSQL) 15.18 (Debian ...)" -> "15.18 <dir>"
        echo "$("$d/postgres" --version | awk '{print $3}') $d"
    done | sort -V | tail -n 1 | cut -d' ' -f2-
}

# Client tools: prefer the server's bin dir, fall back to PATH.
_svc_pg_tool() {
    if [ -x "$_SVC_PG_BIN/$1" ]; then echo "$_SVC_PG_BIN/$1"; else command -v "$1" || true; fi
}

_svc_check_packages() {
    local missing=()
    _SVC_PG_BIN=$(_svc_find_pg_bin)
    if [ -z "$_SVC_PG_BIN" ]; then
        missing+=(postgresql)
    elif [ -z "$(_svc_pg_tool pg_isready)" ] || [ -z "$(_svc_pg_tool createdb)" ]; then
        missing+=(postgresql-client)
    fi
    command -v redis-server >/dev/null || missing+=(redis-server)
    # The browser tests drive Debian's Chromium (a test tool's own browser download fails here).
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    # The accessibility crawl validates the pages with the Nu Html Checker, a Java program.
    command -v java >/dev/null || missing+=(default-jre-headless)
    # redis-cli ships in redis-tools, which redis-server depends on.
    command -v redis-server >/dev/null && ! command -v redis-cli >/dev/null && missing+=(redis-tools)
    [ ${#missing[@]} -eq 0 ] && return 0

    if [ "$(id -u)" -ne 0 ]; then
        _svc_die "missing Debian packages: ${missing[*]}
Install them as root:  apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    echo "services.sh: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update || _svc_die "apt-get update failed"
    apt-get install -y --no-install-recommends "${missing[@]}" || _svc_die "apt-get install failed"
    _SVC_PG_BIN=$(_svc_find_pg_bin)
    [ -n "$_SVC_PG_BIN" ] || _svc_die "PostgreSQL binaries still not found after installing"
}

# PostgreSQL refuses to run as root, so as root we run it as `nobody`.
# The subshell cd's into the cluster dir because initdb/pg_ctl fail when
# `nobody` cannot access the caller's working directory.
_svc_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$_SVC_PG_DIR" && runuser -u nobody -- "$@")
    else
        "$@"
    fi
}

_svc_cleanup() {
    local pid i
    if [ -n "${_SVC_PG_DIR:-}" ] && [ -f "$_SVC_PG_DIR/data/postmaster.pid" ]; then
        # Throwaway data: "immediate" skips the shutdown checkpoint.
        _svc_as_pg "$_SVC_PG_BIN/pg_ctl" -D "$_SVC_PG_DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if [ -n "${_SVC_REDIS_DIR:-}" ] && [ -f "$_SVC_REDIS_DIR/redis.pid" ]; then
        pid=$(cat "$_SVC_REDIS_DIR/redis.pid")
        kill "$pid" 2>/dev/null || true
        # redis daemonizes (not our child), so poll instead of `wait`.
        for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -rf "${_SVC_PG_DIR:-}" "${_SVC_REDIS_DIR:-}"
}

# Poll "$@" for up to ~30 s; on timeout show the server log and give up.
_svc_wait() {
    local name=$1 log=$2 i
    shift 2
    for i in $(seq 150); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "services.sh: $name did not come up within 30 s; log ($log):" >&2
    cat "$log" >&2 2>/dev/null
    exit 1
}

_svc_check_packages

# Two distinct free ports; the kernel picks them when binding port 0.
read -r _SVC_PG_PORT _SVC_REDIS_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
')
[ -n "$_SVC_REDIS_PORT" ] || _svc_die "could not pick free ports"

# As root use /tmp rather than $TMPDIR: `nobody` must be able to reach it.
if [ "$(id -u)" -eq 0 ]; then
    _SVC_PG_DIR=$(mktemp -d /tmp/stimulans-pg.XXXXXX)
    chown nobody "$_SVC_PG_DIR"
else
    _SVC_PG_DIR=$(mktemp -d -t stimulans-pg.XXXXXX)
fi
_SVC_REDIS_DIR=$(mktemp -d -t stimulans-redis.XXXXXX)
trap _svc_cleanup EXIT
# Make Ctrl-C / kill go through `exit` so the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
# Traps cannot catch SIGKILL (e.g. a CI timeout killing the process group),
# and both servers detach into their own sessions, so they would be leaked.
# A watchdog in its own session cleans up once this shell ($$) is gone.
setsid bash -c "$(declare -f _svc_as_pg _svc_cleanup)
    _SVC_PG_BIN=$(printf %q "$_SVC_PG_BIN") _SVC_PG_DIR=$(printf %q "$_SVC_PG_DIR")
    _SVC_REDIS_DIR=$(printf %q "$_SVC_REDIS_DIR")
    while kill -0 $$ 2>/dev/null; do sleep 1; done
    _svc_cleanup" </dev/null >/dev/null 2>&1 &

# --- PostgreSQL -----------------------------------------------------------
echo "services.sh: starting PostgreSQL ($_SVC_PG_BIN) on 127.0.0.1:$_SVC_PG_PORT"
# The bootstrap superuser is named "stimulans", so that role exists, is a
# superuser (pytest-django creates test databases) and owns what it creates.
_svc_as_pg "$_SVC_PG_BIN/initdb" -D "$_SVC_PG_DIR/data" -U stimulans --auth=trust \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$_SVC_PG_DIR/initdb.log" 2>&1 ||
    { cat "$_SVC_PG_DIR/initdb.log" >&2; _svc_die "initdb failed"; }
cat >>"$_SVC_PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $_SVC_PG_PORT
unix_socket_directories = '$_SVC_PG_DIR'
max_connections = 200
# Durability is pointless for a throwaway cluster; trade it for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
_svc_as_pg "$_SVC_PG_BIN/pg_ctl" -D "$_SVC_PG_DIR/data" -l "$_SVC_PG_DIR/postgres.log" -W start >/dev/null ||
    _svc_die "pg_ctl start failed"

# --- Redis ----------------------------------------------------------------
echo "services.sh: starting redis-server on 127.0.0.1:$_SVC_REDIS_PORT"
_SVC_REDIS_START=(redis-server --bind 127.0.0.1 --port "$_SVC_REDIS_PORT" --save "" --appendonly no
    --dir "$_SVC_REDIS_DIR" --daemonize yes --pidfile "$_SVC_REDIS_DIR/redis.pid"
    --logfile "$_SVC_REDIS_DIR/redis.log")
"${_SVC_REDIS_START[@]}" || _svc_die "redis-server failed to start"

# --- Wait for both, then create the database ------------------------------
_svc_wait PostgreSQL "$_SVC_PG_DIR/postgres.log" \
    "$(_svc_pg_tool pg_isready)" -q -h 127.0.0.1 -p "$_SVC_PG_PORT" -U stimulans -d postgres
_svc_wait Redis "$_SVC_REDIS_DIR/redis.log" \
    sh -c '[ "$(redis-cli -h 127.0.0.1 -p "$1" ping)" = PONG ]' sh "$_SVC_REDIS_PORT"
"$(_svc_pg_tool createdb)" -h 127.0.0.1 -p "$_SVC_PG_PORT" -U stimulans -O stimulans stimulans ||
    _svc_die "createdb stimulans failed"

export DATABASE_URL="postgres://stimulans@127.0.0.1:$_SVC_PG_PORT/stimulans"
export CELERY_BROKER_URL="redis://127.0.0.1:$_SVC_REDIS_PORT/0"
export STIMULANS_TEST_SERVICES=1
# Without DEBUG the product needs an explicit key; every process of one run (the tests, their
# workers and servers) shares this throwaway one, as the servers of one installation must.
if [ -z "${SECRET_KEY:-}" ] && [ -z "${SECRET_KEY_FILE:-}" ]; then
    SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
    export SECRET_KEY
fi
# For the fault tests (tests/test_faults.py), which stop and start both servers and always
# start them again: how this script runs them. pg_ctl runs as STIMULANS_TEST_PG_USER if set.
export STIMULANS_TEST_PG_CTL="$_SVC_PG_BIN/pg_ctl"
export STIMULANS_TEST_PG_DATA="$_SVC_PG_DIR/data"
export STIMULANS_TEST_PG_LOG="$_SVC_PG_DIR/postgres.log"
STIMULANS_TEST_PG_USER=""
[ "$(id -u)" -eq 0 ] && STIMULANS_TEST_PG_USER=nobody
export STIMULANS_TEST_PG_USER
STIMULANS_TEST_REDIS_START=$(printf '%q ' "${_SVC_REDIS_START[@]}")
export STIMULANS_TEST_REDIS_START
export STIMULANS_TEST_REDIS_PORT="$_SVC_REDIS_PORT"
echo "services.sh: DATABASE_URL=$DATABASE_URL CELERY_BROKER_URL=$CELERY_BROKER_URL"
