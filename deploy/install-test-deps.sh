#!/usr/bin/env bash
# Installs the Debian packages the test suite and benchmarks need (real ClickHouse, Prometheus,
# Squid, softflowd, BitTorrent clients and tracker, nDPI, nfdump, tcpdump). Run as root.
# Services are not started by the packages: tests start their own on loopback.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
packages=$(grep -v '^\s*#' "$here/ci-packages.txt" | tr -s ' \n' ' ')
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "test dependencies: all installed"
  exit 0
fi
echo "test dependencies: installing$missing"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
