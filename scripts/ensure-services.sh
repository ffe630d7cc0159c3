#!/usr/bin/env bash
# Start (installing if needed) what the test suite talks to: Redis, PostgreSQL, Debian chromium.
set -euo pipefail

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=0
apt_install() {
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.2; done
  echo "service on port $1 did not come up" >&2; return 1
}

if ! port_open 6379; then
  command -v redis-server >/dev/null || { echo "installing redis-server"; apt_install redis-server; }
  echo "starting redis-server on 127.0.0.1:6379"
  mkdir -p /tmp/casebot-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/casebot-redis --logfile /tmp/casebot-redis/redis.log
  wait_port 6379
fi

if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "installing postgresql"; apt_install postgresql
  fi
  echo "starting postgresql"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  wait_port 5432
fi

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "installing Debian chromium"; apt_install chromium fonts-noto-cjk
fi
echo "services ready: redis 6379, postgresql 5432, chromium $(${CHROMIUM:-/usr/bin/chromium} --version 2>/dev/null | head -n1)"
