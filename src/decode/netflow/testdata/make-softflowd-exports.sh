#!/usr/bin/env bash
# Regenerates the softflowd golden exports in this folder: Debian's softflowd reads a public
# capture and exports NetFlow v5 / v9 / IPFIX to a loopback port; tcpdump records what it sent.
# The golden test decodes these files and checks every flow against the source capture.
# Needs root (tcpdump on lo), softflowd 1.1.0 and the shared fixtures beside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="${SHARED_FIXTURES:-$here/../../../../../shared/fixtures}"
port="${PORT:-39555}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

export_one() { # name capture version
  local name="$1" capture="$2" version="$3" out="$here/softflowd-$1-v$3.pcap"
  tcpdump -i lo -U -s 0 -w "$tmp/out.pcap" "udp and dst port $port" 2>/dev/null &
  local tcpdump_pid=$!
  sleep 1
  # -c none: 1.1.0 hangs at end of file otherwise; -a -A milli: capture-time, millisecond stamps.
  softflowd -r "$capture" -n "127.0.0.1:$port" -v "$version" -a -A milli -d -c none -p "$tmp/softflowd.pid" >/dev/null 2>&1
  sleep 1
  kill "$tcpdump_pid"
  wait "$tcpdump_pid" || true
  mv "$tmp/out.pcap" "$out"
  echo "$out: $(stat -c %s "$out") bytes"
}

for v in 5 9 10; do
  export_one loopback "$fixtures/pcap/loopback-http-udp.pcap" "$v"
  export_one bittorrent "$fixtures/ndpi/bittorrent/bittorrent.pcap" "$v"
done
# IPv6 flows: only v9 and IPFIX can carry them.
for v in 9 10; do
  export_one ipv6 "$fixtures/ndpi/bittorrent/lru_ipv6_caches.pcapng" "$v"
done
softflowd -h 2>&1 | grep -m1 -o "softflowd version [0-9.]*" > "$here/softflowd-version.txt"
# The same exports in other capture formats, for the replay reader: pcapng and nanosecond pcap.
editcap -F pcapng "$here/softflowd-loopback-v10.pcap" "$here/softflowd-loopback-v10.pcapng"
editcap -F nsecpcap "$here/softflowd-loopback-v9.pcap" "$here/softflowd-loopback-v9.nsec.pcap"
