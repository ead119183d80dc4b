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
if [ ! -x .venv/bin/python ] && ! "$python" -m venv .venv; then
  # Debian's python3 comes without venv (ensurepip) until python3-venv is installed.
  rm -rf .venv
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
    "$python" -m venv .venv
  else
    echo "please install python3-venv (sudo apt-get install python3-venv)" >&2
    exit 1
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

# Debian packages: Chromium for the browser tests (Playwright drives it; it never downloads
# a browser of its own) and tor (tor and tor-gencert, for the private Tor network of
# tests/system/tor) and shellcheck (tests/foundation/test_test_script.py checks these
# scripts). PostgreSQL and Redis come from scripts/services.sh below.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v tor-gencert >/dev/null 2>&1 || need+=(tor)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
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

# PostgreSQL at DOKAZ_TEST_PG_URL (default 127.0.0.1:5432, trust auth) and Redis at
# DOKAZ_TEST_REDIS_URL (default 127.0.0.1:6379): the running ones, else the machine's own
# started, else installed, else a private throwaway server on that port, stopped and
# deleted when this script exits (scripts/services.sh).
# shellcheck source=scripts/services.sh
. scripts/services.sh
SERVICES_PYTHON=.venv/bin/python
ensure_services
export DOKAZ_TEST_REQUIRE_PG=1

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
  # Not exec: the EXIT trap stops the services this script started.
  .venv/bin/pytest -n 2 --ignore=tests/system -m "not browser and not slow" "$@"
  exit
fi
echo "== pytest (SQLite and PostgreSQL)"
.venv/bin/pytest -n 2 "$@"
