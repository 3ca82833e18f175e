#!/usr/bin/env bash
# Installs every build and test dependency of heed from Debian's packages.
# Idempotent and quiet when everything is present; runs `apt-get update`
# only when something is missing (a new machine's package lists are empty).
set -euo pipefail

pkgs=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries (docs/architecture.md, "Dependencies")
  libevent-dev libcurl4-openssl-dev libjansson-dev libc-ares-dev libssl-dev
  libfyaml-dev libsqlite3-dev
  # tests
  libcmocka-dev python3 postgresql redis-server mariadb-server
  fping iproute2 procps
  dnsmasq-base  # dns:// tests: a name server on a loopback port (no system service)
  prometheus    # promtool: tests/unit/test_metrics checks the /metrics text with it
  openssl curl  # TLS tests: certificates made per test; an HTTPS client in a namespace
  python3-consul ansible-core  # discovery tests: a Consul client and Ansible, used unchanged
  prometheus-alertmanager  # notifier tests: a real Alertmanager on a loopback port (no cluster port)
  chromium      # dashboard tests: headless, driven by playwright-core (tests/clients)
  zsh man-db    # install tests: the zsh completion, the man pages rendered with warnings on
  dpkg-dev debhelper lintian adduser  # the Debian package (debian/): built, linted, installed, purged
  systemd       # systemd-analyze verify checks the unit (test_install); PID 1 stays as it is
)

# Third-party clients from npm that the tests drive (tests/clients/package.json,
# versions pinned by its package-lock.json), with the machine's Node.js.
npm_clients() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/clients"
  [ -d "$dir/node_modules/consul" ] && [ -d "$dir/node_modules/playwright-core" ] && return 0
  command -v npm >/dev/null 2>&1 || { echo "deps: npm not found: the npm test clients (consul, playwright-core) are not installed" >&2; return 0; }
  echo "deps: installing the npm test clients (tests/clients)" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
# Node.js and npm run the npm test clients (the consul client, playwright-core
# for the dashboard's tests). A machine that has them (from any source) keeps
# them; Debian's are installed only where there are none, so a newer Node
# already present is never replaced.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  npm_clients
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts freshly installed servers; heed's tests start their own on
# free loopback ports, so stop the system-wide ones we just brought in.
for svc in postgresql redis-server mariadb mysql prometheus prometheus-alertmanager; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
  fi
done
npm_clients
exit 0
