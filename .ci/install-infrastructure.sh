#!/usr/bin/env bash
# Installs what the tests need and this machine is missing (./test.sh runs it before every test run):
#   - fonts-dejavu-core: the plots' labels need a font (without one, Skia draws no text)
#   - chromium: the dashboard's browser tests (Playwright drives it with ExecutablePath: it cannot download browsers here)
#   - rabbitmq-server, Debian's: each test and the AppHost start their own private broker on free ports
#   - Azurite: the repository's npm devDependency, pinned in package.json / package-lock.json (npm ci)
# Idempotent: installs nothing that is already there, so it costs a second when all is in place. apt-get needs root:
# run as root or with sudo. What counts as present is what tests/CremaD.Testing/Infrastructure.cs checks.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ -n "${CREMAD_CHROMIUM:-}" ] && [ ! -f "$CREMAD_CHROMIUM" ]; then
  echo "install-infrastructure: CREMAD_CHROMIUM=$CREMAD_CHROMIUM does not exist (unset it to use Debian's chromium)" >&2
  exit 1
fi

chromium_present() {
  if [ -n "${CREMAD_CHROMIUM:-}" ]; then return 0; fi
  local candidate
  for candidate in /usr/lib/chromium/chromium /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -f "$candidate" ]; then return 0; fi
  done
  return 1
}

missing=()
# The plots are drawn with DejaVu Sans where it is installed; the package is named rather than "any font" so that
# every machine draws the same PNGs.
if ! dpkg -s fonts-dejavu-core >/dev/null 2>&1; then missing+=(fonts-dejavu-core); fi
if ! chromium_present; then missing+=(chromium); fi
if [ ! -f /usr/lib/rabbitmq/bin/rabbitmq-server ]; then missing+=(rabbitmq-server); fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-infrastructure: installing ${missing[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-infrastructure: no apt-get here; install ${missing[*]} yourself (the tests expect Debian's paths)" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "install-infrastructure: installing ${missing[*]} needs root: run as root, or install sudo" >&2
    exit 1
  fi
  as_root apt-get update -q
  # policy-rc.d exit code 101 tells invoke-rc.d not to start services during installation, so no system
  # RabbitMQ grabs the default ports (5672, 25672, 4369). Ours is removed again right after.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod +x "$policy"
    created_policy=1
  fi
  status=0
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
  if [ "$created_policy" -eq 1 ]; then as_root rm -f "$policy"; fi
  if [ "$status" -ne 0 ]; then exit "$status"; fi
fi

# Whether or not we installed it just now, a system broker (started by the package on some hosts, or left over
# from an earlier manual install) must not run: tests use only private brokers.
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

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-infrastructure: Azurite needs Node.js 20 with npm on PATH (https://nodejs.org); none found" >&2
  exit 1
fi
# npm ci when Azurite is missing or is not the version the lock file pins (after a pull that changed it).
azurite_version() {
  (cd "$repo_root" && node -p "require('./node_modules/azurite/package.json').version" 2>/dev/null) || true
}
locked_version="$(cd "$repo_root" && node -p "require('./package-lock.json').packages['node_modules/azurite'].version")"
if [ ! -x "$repo_root/node_modules/.bin/azurite" ] || [ "$(azurite_version)" != "$locked_version" ]; then
  echo "install-infrastructure: installing Azurite $locked_version (npm ci)"
  (cd "$repo_root" && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "install-infrastructure: rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null || echo '?'), azurite $(azurite_version), node $(node --version)"
