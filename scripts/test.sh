#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs all of it:
# lint (ruff), types (mypy --strict), schema drift (alembic check) and pytest on SQLite
# and PostgreSQL. Extra arguments go to pytest.
#
# `bash scripts/test.sh --fast` is the edit loop: the same set-up and checks, then pytest
# without the system tests (tests/system), the browser and the slow ones. CI runs it all.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=0
if [ "${1:-}" = "--fast" ]; then
  fast=1
  shift
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

# Debian packages: Chromium for the browser tests (Playwright drives it; it never downloads
# a browser of its own), tor (tor and tor-gencert, for the private Tor network of
# tests/system/tor) and the PostgreSQL client tools.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v tor-gencert >/dev/null 2>&1 || need+=(tor)
command -v pg_isready >/dev/null 2>&1 || need+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Node.js and npm run tus-js-client against the server (tests/uploads/test_real_clients.py).
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  else
    echo "please install: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

# PostgreSQL on 127.0.0.1:5432 (trust auth): start the local cluster if it is down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
export DOKAZ_TEST_REQUIRE_PG=1

# Redis on 127.0.0.1:6379 for the counters several API processes share: start one that
# keeps nothing on disk if none answers (Debian's redis-server).
if ! .venv/bin/python -c "import redis; redis.Redis(socket_timeout=1).ping()" 2>/dev/null; then
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --daemonize yes --save "" --appendonly no --bind 127.0.0.1 --port 6379 >/dev/null
    for _ in $(seq 1 20); do
      .venv/bin/python -c "import redis; redis.Redis(socket_timeout=1).ping()" 2>/dev/null && break
      sleep 0.5
    done
  else
    echo "please install redis-server (sudo apt-get install redis-server)" >&2
    exit 1
  fi
fi

# tus-js-client for the tus conformance test, once, into a cache folder outside the tree
# (the test installs it there itself when missing; doing it here keeps it out of pytest's time).
node_dir=${DOKAZ_TEST_NODE_DIR:-$HOME/.cache/dokaz-tests/node-tus}
if [ ! -d "$node_dir/node_modules/tus-js-client" ]; then
  mkdir -p "$node_dir"
  [ -f "$node_dir/package.json" ] || echo '{"private": true, "type": "module"}' > "$node_dir/package.json"
  (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error tus-js-client@4)
fi

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy --strict"
.venv/bin/mypy
echo "== lint-imports (package layering, tool.importlinter in pyproject.toml)"
.venv/bin/lint-imports
echo "== alembic check"
check_dir=$(mktemp -d)
DOKAZ_DATA_DIR="$check_dir" .venv/bin/dokaz db upgrade >/dev/null
DOKAZ_DATA_DIR="$check_dir" .venv/bin/alembic check
rm -rf "$check_dir"
if [ "$fast" = 1 ]; then
  echo "== pytest, fast lane (SQLite and PostgreSQL; no system, browser or slow tests)"
  exec .venv/bin/pytest -n 2 --ignore=tests/system -m "not browser and not slow" "$@"
fi
echo "== pytest (SQLite and PostgreSQL)"
.venv/bin/pytest -n 2 "$@"
