#!/usr/bin/env bash
# The services the test suite needs, brought up on a machine that may have only Python:
# PostgreSQL at DOKAZ_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/
# postgres) and Redis at DOKAZ_TEST_REDIS_URL (default redis://127.0.0.1:6379/0).
#
# For each, in this order: one already answers, use it; else start the machine's own
# (Debian's cluster on 5432 with pg_ctlcluster; a redis-server); else, where the server
# programs are missing, install them (apt, as root); else start a private, throwaway one
# in a temporary directory on the URL's port, which is stopped and deleted when the
# calling script exits (`stop_started_services`, set as an EXIT trap by `ensure_services`).
# Nothing already running is ever stopped or changed.
#
# Sourced by scripts/test.sh. Run directly, `bash scripts/services.sh [COMMAND...]` brings
# the services up, runs COMMAND (default: prints where they are) and then stops what it
# started; tests/foundation/test_test_script.py uses that on ports of its own.

DEFAULT_PG_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379/0"
_started_dirs=()
_started_pg=()
_started_redis=()

_say() { echo "services: $*" >&2; }

# host and port of a URL, as "HOST PORT" (Python's parser: what psycopg and redis read).
_host_port() {
  "${SERVICES_PYTHON:-python3}" - "$1" "$2" <<'EOF'
import sys
from urllib.parse import urlsplit
url = urlsplit(sys.argv[1])
print(url.hostname or "127.0.0.1", url.port or int(sys.argv[2]))
EOF
}

_as_root() { [ "$(id -u)" = 0 ]; }

_apt_install() {
  if ! _as_root || ! command -v apt-get >/dev/null 2>&1; then
    _say "please install: $* (e.g. sudo apt-get install $*)"
    return 1
  fi
  _say "installing $* (apt)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

_pg_ready() { pg_isready -h "$1" -p "$2" -q 2>/dev/null; }

_wait_for() {  # _wait_for SECONDS COMMAND...: true once COMMAND succeeds
  local tries=$(($1 * 2))
  shift
  for _ in $(seq 1 "$tries"); do
    "$@" && return 0
    sleep 0.5
  done
  return 1
}

# The directory holding initdb and pg_ctl: on PATH, else Debian's versioned one.
_pg_bindir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  local dir
  dir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# A throwaway cluster: trust authentication for the "postgres" role, no fsync (its data
# lives only as long as the test run), listening on HOST:PORT and a socket in its own dir.
_private_postgres() {
  local host=$1 port=$2 bindir dir run=()
  bindir=$(_pg_bindir) || return 1
  dir=$(mktemp -d "${TMPDIR:-/tmp}/dokaz-pg.XXXXXX")
  if _as_root; then
    # initdb and postgres refuse to run as root: the cluster belongs to a plain user, in
    # a directory that user can reach (a root-only TMPDIR is not one).
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    run=(runuser -u postgres --)
    if ! "${run[@]}" test -w "$dir"; then
      rmdir "$dir"
      dir=$(mktemp -d /tmp/dokaz-pg.XXXXXX)
      chown postgres "$dir"
    fi
  fi
  _say "starting a private PostgreSQL on $host:$port in $dir"
  "${run[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
    --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
  "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=$host -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
  _started_dirs+=("$dir")
  _started_pg+=("$dir")
}

ensure_postgres() {
  local url=${DOKAZ_TEST_PG_URL:-$DEFAULT_PG_URL} host port
  command -v pg_isready >/dev/null 2>&1 || _apt_install postgresql-client || return 1
  read -r host port < <(_host_port "$url" 5432)
  _pg_ready "$host" "$port" && return 0
  # Debian's own cluster, when the URL names its port and it is merely stopped.
  local version
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)
  if [ "$port" = 5432 ] && [ -n "$version" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    _wait_for 30 _pg_ready "$host" "$port" && return 0
  fi
  _pg_bindir >/dev/null || _apt_install postgresql || return 1
  _private_postgres "$host" "$port" || return 1
  _wait_for 30 _pg_ready "$host" "$port" || { _say "PostgreSQL on $host:$port did not start"; return 1; }
}

_redis_ready() {
  "${SERVICES_PYTHON:-python3}" -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_timeout=1).ping()" \
    "$1" 2>/dev/null
}

ensure_redis() {
  local url=${DOKAZ_TEST_REDIS_URL:-$DEFAULT_REDIS_URL} host port dir
  read -r host port < <(_host_port "$url" 6379)
  _redis_ready "$url" && return 0
  command -v redis-server >/dev/null 2>&1 || _apt_install redis-server || return 1
  # Keeps nothing on disk (the counters are memory-only by design), in a directory of its
  # own so its pid file and socket go when it is stopped.
  dir=$(mktemp -d "${TMPDIR:-/tmp}/dokaz-redis.XXXXXX")
  _say "starting a private Redis on $host:$port"
  redis-server --daemonize yes --save "" --appendonly no --bind "$host" --port "$port" \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null || return 1
  _started_dirs+=("$dir")
  _started_redis+=("$dir")
  _wait_for 10 _redis_ready "$url" || { _say "Redis on $host:$port did not start"; return 1; }
}

_gone() { ! kill -0 "$1" 2>/dev/null; }

# Stops only what this script started, by its own pid file, and deletes its directory.
stop_started_services() {
  local dir run=()
  _as_root && run=(runuser -u postgres --)
  for dir in "${_started_pg[@]}"; do
    "${run[@]}" "$(_pg_bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  done
  for dir in "${_started_redis[@]}"; do
    if [ -f "$dir/redis.pid" ]; then
      local pid
      pid=$(cat "$dir/redis.pid")
      kill "$pid" 2>/dev/null || true
      _wait_for 10 _gone "$pid" || true
    fi
  done
  for dir in "${_started_dirs[@]}"; do
    rm -rf "$dir"
  done
  _started_dirs=()
  _started_pg=()
  _started_redis=()
}

ensure_services() {
  trap stop_started_services EXIT
  ensure_postgres && ensure_redis
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_services
  if [ $# -gt 0 ]; then
    "$@"
  else
    echo "postgresql: ${DOKAZ_TEST_PG_URL:-$DEFAULT_PG_URL}"
    echo "redis: ${DOKAZ_TEST_REDIS_URL:-$DEFAULT_REDIS_URL}"
  fi
fi
