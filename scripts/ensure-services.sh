#!/usr/bin/env bash
# Make sure what `make test` talks to is there: PostgreSQL and Redis on 127.0.0.1, and Debian's
# docker-compose (to validate docker-compose.yml without a Docker engine). Starts what is
# installed but stopped; installs (apt, as root) what is missing. Changes nothing that answers.
set -euo pipefail

PG_PORT=${PG_PORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
APT_UPDATED=

say() { printf 'ensure-services: %s\n' "$*"; }

answers() {  # host port
  python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

wait_for() {  # name port
  for _ in $(seq 1 60); do
    answers 127.0.0.1 "$2" && return 0
    sleep 0.5
  done
  say "$1 did not start on 127.0.0.1:$2"; exit 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "$* missing and not root: install it (apt-get install $*) or run make test as root"; exit 1
  fi
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"; DEBIAN_FRONTEND=noninteractive apt-get update -qq; APT_UPDATED=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  answers 127.0.0.1 "$PG_PORT" && return 0
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  local conf=/etc/postgresql/$version/main
  # Local tests connect over TCP without a password (trust on loopback only).
  if ! grep -q "crossfeed-test" "$conf/pg_hba.conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust # crossfeed-test\nhost all all ::1/128 trust # crossfeed-test' "$conf/pg_hba.conf"
  fi
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL "$PG_PORT"
  local me; me=$(id -un)
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='$me'\"" | grep -q 1 \
    || su postgres -c "createuser --superuser $me"
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
    || su postgres -c "createdb -O $me test"
}

ensure_redis() {
  answers 127.0.0.1 "$REDIS_PORT" && return 0
  command -v redis-server >/dev/null || apt_install redis-server
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis "$REDIS_PORT"
}

ensure_compose_validator() {
  command -v docker-compose >/dev/null || apt_install docker-compose
}

# A real feed reader: the tests read the partner feeds with it, and bench/poll.py compares
# the poller against it.
ensure_newsboat() {
  command -v newsboat >/dev/null || apt_install newsboat
}

# The desk's browser tests drive Debian's Chromium with Playwright (never `playwright install`,
# which downloads a browser; see tests/ui/conftest.py).
ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium fonts-noto-core
}

ensure_postgres
ensure_redis
ensure_compose_validator
ensure_newsboat
ensure_chromium
# make bench's peers and load generator: nginx serves the same feed bytes as a static file,
# wrk loads both (bench/feeds.py).
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null || apt_install wrk
  command -v nginx >/dev/null || apt_install nginx-light
fi
say "PostgreSQL 127.0.0.1:$PG_PORT, Redis 127.0.0.1:$REDIS_PORT, docker-compose, newsboat and Chromium are ready"
