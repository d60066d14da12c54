#!/usr/bin/env bash
# Installs the real infrastructure the tests and the AppHost run privately:
#   - RabbitMQ (Debian's rabbitmq-server; each test/AppHost starts its own broker on free ports)
#   - Azurite (the repo's own npm devDependency, pinned in package.json / package-lock.json)
# Idempotent: does nothing that is already done, so .ci/run can call it on every run.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "install-infrastructure: installing rabbitmq-server"
  as_root apt-get update -q
  # policy-rc.d exit code 101 tells invoke-rc.d not to start services during installation, so no
  # system broker grabs the default ports (5672, 25672, 4369). Ours is removed again right after.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod +x "$policy"
    created_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends rabbitmq-server
  if [ "$created_policy" -eq 1 ]; then as_root rm -f "$policy"; fi
fi

# Whether or not we installed it just now, a system broker (started by the package on some hosts,
# or left over from an earlier manual install) must not run: tests use only private brokers.
if pgrep -u rabbitmq -f 'beam.*rabbit' >/dev/null 2>&1; then
  echo "install-infrastructure: stopping the system RabbitMQ broker"
  as_root service rabbitmq-server stop >/dev/null 2>&1 \
    || as_root rabbitmqctl stop >/dev/null 2>&1 \
    || true
fi
# The system broker's epmd listens on the default port 4369; private brokers use their own ports.
if pgrep -x epmd -u rabbitmq >/dev/null 2>&1; then
  as_root env ERL_EPMD_PORT=4369 epmd -kill >/dev/null 2>&1 || true
fi

if [ ! -x "$repo_root/node_modules/.bin/azurite" ]; then
  echo "install-infrastructure: installing Azurite (npm ci)"
  (cd "$repo_root" && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "install-infrastructure: rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo '?'), azurite $(cd "$repo_root" && node -p "require('./node_modules/azurite/package.json').version")"
