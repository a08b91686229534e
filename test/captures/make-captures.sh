#!/usr/bin/env bash
# Builds the packet-source fixtures in src/decode/packet/testdata/ from real clients on loopback:
#
#   swarm-http-tracker.pcap  opentracker (whitelist) + transmission-cli seeding + aria2c leeching,
#                            HTTP tracker announces, plain peer wire
#   swarm-mse.pcap           the same swarm with encryption required (MSE/PE): the peer wire is
#                            opaque, the peers are known only from the tracker's answer
#   swarm-udp-tracker.pcap   two transmission-cli peers announcing on a UDP tracker (BEP 15):
#                            connect, announce, peer lists. (aria2c speaks UDP trackers only with
#                            DHT on, and transmission 3.00 does not dial loopback peers it got
#                            from a tracker, so no transfer follows.)
#   swarm-utp-mse.pcap       transmission-cli seeding, qbittorrent-nox (headless, its own profile,
#                            torrent added through its Web API) leeching over uTP only, with
#                            encryption required on both sides: MSE/PE inside uTP (BEP 29)
#   benign-http-tls.pcap     plain HTTP and TLS downloads (curl) from a local node server with a
#                            self-signed certificate made by openssl
#
# DHT, LSD and PEX are off in every client. Traffic stays on 127.0.0.1. Needs root (or
# tcpdump with cap_net_raw,cap_net_admin) and: tcpdump opentracker mktorrent transmission-cli
# transmission-show aria2c qbittorrent-nox openssl curl node.
#
# Usage: test/captures/make-captures.sh [OUT_DIR]   (default: src/decode/packet/testdata)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$REPO/src/decode/packet/testdata}
WORK=$(mktemp -d /tmp/egressd-captures-XXXXXX)
chmod 755 "$WORK"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free loopback port below the ephemeral range, free for TCP and UDP (uTP uses the peer port's
# UDP twin): a port from that range can be another suite's client port at the same time, and the
# capture filter would take in its traffic.
free_port() {
  node -e '
    const fs = require("fs"), net = require("net"), dgram = require("dgram");
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    const from = 10000, to = Math.max(from + 1000, low);
    const attempt = () => {
      const port = from + Math.floor(Math.random() * (to - from));
      const t = net.createServer();
      t.once("error", attempt);
      t.listen(port, "127.0.0.1", () => {
        const u = dgram.createSocket("udp4");
        u.once("error", () => { u.close(); t.close(attempt); });
        u.bind(port, "127.0.0.1", () => { console.log(port); u.close(); t.close(); });
      });
    };
    attempt();'
}

wait_port() { # wait until something listens on 127.0.0.1:$1 (tcp)
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

start_capture() { # file, filter
  tcpdump -i lo -U -s 0 -w "$1" "$2" 2>"$1.log" &
  CAPTURE_PID=$!
  PIDS+=("$CAPTURE_PID")
  for _ in $(seq 1 50); do grep -q "listening on" "$1.log" 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
}

stop_capture() {
  sleep 1
  kill -INT "$CAPTURE_PID"
  wait "$CAPTURE_PID" || true
}

# Stop the swarm's clients ($4…), end the capture and keep it: $1 name, $2 dir, $3 info hash.
finish_swarm() {
  local name=$1 dir=$2 hash=$3
  shift 3
  kill "$@" 2>/dev/null || true
  wait "$@" 2>/dev/null || true
  stop_capture
  cp "$dir/capture.pcap" "$OUT/$name.pcap"
  echo "$name: info_hash $hash, $(stat -c %s "$OUT/$name.pcap") bytes" >&2
}

# A sample file, its torrent, and an opentracker whitelisting it: $1 dir, $2 name, $3 bytes,
# $4 tracker port, $5 tracker scheme (http|udp). Sets HASH.
torrent_with_tracker() {
  local dir=$1 name=$2 bytes=$3 tport=$4 scheme=$5
  head -c "$bytes" /dev/urandom >"$dir/seed/egressd-sample-$name.bin"
  mktorrent -a "$scheme://127.0.0.1:$tport/announce" -l 15 -o "$dir/sample.torrent" "$dir/seed/egressd-sample-$name.bin" >/dev/null
  HASH=$(transmission-show "$dir/sample.torrent" | awk '/Hash( v1)?:/ {print $NF; exit}')
  echo "$HASH" >"$dir/tracker/whitelist"
  (cd "$dir/tracker" && exec opentracker -i 127.0.0.1 -p "$tport" -P "$tport" -w whitelist -u nobody -d "$dir/tracker") >"$dir/tracker.log" 2>&1 &
  PIDS+=("$!")
  wait_port "$tport"
}

# One swarm: $1 name, $2 tracker scheme (http|udp), $3 encryption (plain|required)
swarm() {
  local name=$1 scheme=$2 crypto=$3
  local dir=$WORK/$name
  mkdir -p "$dir/seed" "$dir/leech" "$dir/tracker" "$dir/tr-config"
  chmod 755 "$dir" "$dir/tracker"
  local tport seedport leechport
  tport=$(free_port)
  seedport=$(free_port)
  leechport=$(free_port)

  torrent_with_tracker "$dir" "$name" 196608 "$tport" "$scheme"
  local hash=$HASH

  local encryption=0 aria_crypto=()
  if [ "$crypto" = required ]; then
    encryption=2
    aria_crypto=(--bt-require-crypto=true --bt-min-crypto-level=arc4)
  fi
  cat >"$dir/tr-config/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "encryption": $encryption, "peer-port": $seedport, "port-forwarding-enabled": false,
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1", "rpc-enabled": false,
  "download-dir": "$dir/seed", "speed-limit-up-enabled": false
}
EOF

  start_capture "$dir/capture.pcap" "host 127.0.0.1 and (port $tport or port $seedport or port $leechport)"
  transmission-cli -g "$dir/tr-config" -w "$dir/seed" -p "$seedport" -M "$dir/sample.torrent" >"$dir/seed.log" 2>&1 &
  local seed_pid=$!
  PIDS+=("$seed_pid")
  sleep 4
  timeout 90 aria2c --dir="$dir/leech" --listen-port="$leechport" --seed-time=0 \
    --enable-dht=false --enable-dht6=false --enable-peer-exchange=false --bt-enable-lpd=false \
    --disable-ipv6=true --summary-interval=0 --console-log-level=warn --bt-stop-timeout=60 \
    "${aria_crypto[@]}" "$dir/sample.torrent" >"$dir/leech.log" 2>&1 || {
    echo "aria2c did not finish ($name):" >&2
    tail -c 1500 "$dir/leech.log" >&2
    tail -c 600 "$dir/seed.log" >&2
    return 1
  }
  cmp "$dir/seed/egressd-sample-$name.bin" "$dir/leech/egressd-sample-$name.bin"
  finish_swarm "$name" "$dir" "$hash" "$seed_pid"
}

transmission_config() { # dir, port, download dir[, encryption: 0 preferred off .. 2 required]
  mkdir -p "$1"
  cat >"$1/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": true,
  "encryption": ${4:-0}, "peer-port": $2, "port-forwarding-enabled": false,
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1", "rpc-enabled": false,
  "download-dir": "$3", "speed-limit-up-enabled": false
}
EOF
}

# Two transmission peers announced on a UDP tracker.
swarm_udp() {
  local name=swarm-udp-tracker
  local dir=$WORK/$name
  mkdir -p "$dir/seed" "$dir/leech" "$dir/tracker"
  chmod 755 "$dir" "$dir/tracker"
  local tport seedport leechport
  tport=$(free_port)
  seedport=$(free_port)
  leechport=$(free_port)
  torrent_with_tracker "$dir" "$name" 131072 "$tport" udp
  local hash=$HASH
  transmission_config "$dir/seed-config" "$seedport" "$dir/seed"
  transmission_config "$dir/leech-config" "$leechport" "$dir/leech"

  start_capture "$dir/capture.pcap" "host 127.0.0.1 and (port $tport or port $seedport or port $leechport)"
  transmission-cli -g "$dir/seed-config" -w "$dir/seed" -p "$seedport" -M "$dir/sample.torrent" >"$dir/seed.log" 2>&1 &
  local seed_pid=$!
  PIDS+=("$seed_pid")
  sleep 4
  transmission-cli -g "$dir/leech-config" -w "$dir/leech" -p "$leechport" -M "$dir/sample.torrent" >"$dir/leech.log" 2>&1 &
  local leech_pid=$!
  PIDS+=("$leech_pid")
  # Long enough for both to connect, announce and re-announce.
  sleep 10
  finish_swarm "$name" "$dir" "$hash" "$leech_pid" "$seed_pid"
}

# transmission-cli seeds, qbittorrent-nox leeches over uTP only; both require encryption.
swarm_utp() {
  local name=swarm-utp-mse
  local dir=$WORK/$name
  mkdir -p "$dir/seed" "$dir/leech" "$dir/tracker" "$dir/qb/qBittorrent/config"
  chmod 755 "$dir" "$dir/tracker"
  local tport seedport leechport webport
  tport=$(free_port)
  seedport=$(free_port)
  leechport=$(free_port)
  webport=$(free_port)
  torrent_with_tracker "$dir" "$name" 196608 "$tport" http
  local hash=$HASH
  transmission_config "$dir/seed-config" "$seedport" "$dir/seed" 2
  # Encryption=1: required. BTProtocol=UTP: no TCP peer connections. The Web API answers
  # loopback without a login; it only adds the torrent.
  cat >"$dir/qb/qBittorrent/config/qBittorrent.conf" <<EOF
[LegalNotice]
Accepted=true

[BitTorrent]
Session\DHTEnabled=false
Session\LSDEnabled=false
Session\PeXEnabled=false
Session\Encryption=1
Session\BTProtocol=UTP
Session\Port=$leechport
Session\Interface=lo
Session\InterfaceName=lo
Session\InterfaceAddress=127.0.0.1
Session\AllowMultipleConnectionsFromTheSameIPAddress=true
Session\DefaultSavePath=$dir/leech

[Preferences]
Connection\UPnP=false
WebUI\Address=127.0.0.1
WebUI\Port=$webport
WebUI\LocalHostAuth=false
EOF

  start_capture "$dir/capture.pcap" "host 127.0.0.1 and (port $tport or port $seedport or port $leechport)"
  transmission-cli -g "$dir/seed-config" -w "$dir/seed" -p "$seedport" -M "$dir/sample.torrent" >"$dir/seed.log" 2>&1 &
  local seed_pid=$!
  PIDS+=("$seed_pid")
  # The leecher must find the seed in the tracker's first answer: transmission 3.00 does not dial
  # loopback peers, and the next announce is half an hour away.
  local escaped
  escaped=$(printf '%s' "$hash" | sed 's/../%&/g')
  for _ in $(seq 1 300); do
    curl -s "http://127.0.0.1:$tport/scrape?info_hash=$escaped" | grep -q '8:completei[1-9]' && break
    sleep 0.1
  done
  curl -s "http://127.0.0.1:$tport/scrape?info_hash=$escaped" | grep -q '8:completei[1-9]' || {
    echo "the seed never announced ($name):" >&2
    tail -c 600 "$dir/seed.log" >&2
    return 1
  }
  qbittorrent-nox --profile="$dir/qb" >"$dir/leech.log" 2>&1 &
  local leech_pid=$!
  PIDS+=("$leech_pid")
  wait_port "$webport"
  curl -sS -o /dev/null -F "torrents=@$dir/sample.torrent" -F "savepath=$dir/leech" "http://127.0.0.1:$webport/api/v2/torrents/add"
  for _ in $(seq 1 1200); do
    cmp -s "$dir/seed/egressd-sample-$name.bin" "$dir/leech/egressd-sample-$name.bin" && break
    sleep 0.1
  done
  cmp "$dir/seed/egressd-sample-$name.bin" "$dir/leech/egressd-sample-$name.bin" || {
    echo "qbittorrent-nox did not finish ($name):" >&2
    curl -sS "http://127.0.0.1:$webport/api/v2/torrents/info" >&2 || true
    tail -c 1500 "$dir/leech.log" "$dir/seed.log" "$dir/qb/qBittorrent/data/logs/qbittorrent.log" >&2 || true
    return 1
  }
  # The leecher's "completed" announce.
  sleep 2
  finish_swarm "$name" "$dir" "$hash" "$leech_pid" "$seed_pid"
}

benign() {
  local dir=$WORK/benign
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  head -c 65536 /dev/urandom >"$dir/file.bin"
  local hport sport
  hport=$(free_port)
  sport=$(free_port)
  node -e '
    const fs = require("fs"), http = require("http"), https = require("https");
    const [dir, hport, sport] = process.argv.slice(1);
    const body = fs.readFileSync(dir + "/file.bin");
    const handler = (req, res) => { res.writeHead(200, { "content-type": "application/octet-stream" }); res.end(body); };
    http.createServer(handler).listen(Number(hport), "127.0.0.1");
    https.createServer({ key: fs.readFileSync(dir + "/key.pem"), cert: fs.readFileSync(dir + "/cert.pem") }, handler).listen(Number(sport), "127.0.0.1");
  ' "$dir" "$hport" "$sport" &
  PIDS+=("$!")
  wait_port "$hport"
  wait_port "$sport"
  start_capture "$dir/capture.pcap" "host 127.0.0.1 and (port $hport or port $sport)"
  curl -sS -o /dev/null "http://127.0.0.1:$hport/pub/dataset-part-0001.bin"
  curl -sS -o /dev/null -H 'Host: downloads.example.org' "http://127.0.0.1:$hport/pub/dataset-part-0002.bin"
  curl -sS -o /dev/null -k --resolve "localhost:$sport:127.0.0.1" "https://localhost:$sport/pub/dataset-part-0003.bin"
  curl -sS -o /dev/null -k --resolve "mirror.example.net:$sport:127.0.0.1" "https://mirror.example.net:$sport/pub/dataset-part-0004.bin"
  stop_capture
  cp "$dir/capture.pcap" "$OUT/benign-http-tls.pcap"
  echo "benign-http-tls: $(stat -c %s "$OUT/benign-http-tls.pcap") bytes" >&2
}

mkdir -p "$OUT"
swarm swarm-http-tracker http plain
swarm swarm-mse http required
swarm_udp
swarm_utp
benign
cat >"$OUT/captures.json" <<EOF
[
  { "file": "swarm-http-tracker.pcap", "negative": false },
  { "file": "swarm-mse.pcap", "negative": false },
  { "file": "swarm-udp-tracker.pcap", "negative": false },
  { "file": "swarm-utp-mse.pcap", "negative": false },
  { "file": "benign-http-tls.pcap", "negative": true }
]
EOF
echo "captures written to $OUT" >&2
