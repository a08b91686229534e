import { Prng } from './prng.js';
import type { ActivityName, Conn, Corpus, GroundTruth, HostRole, Label, ProxyRequest, SwarmLabel, Transport } from './types.js';
import {
  BROWSING_SITE_COUNT,
  CDN_EDGES,
  CRAWL_SITE_COUNT,
  DAY_MS,
  DEFAULT_START,
  HOUR_MS,
  MINUTE_MS,
  SERVICES,
  browsingSite,
  consumerAddress,
  crawlSite,
  type Service,
} from './world.js';

// Labelled traffic of a simulated company: benign office, server, CI and lab activity with human
// rhythms, mixed with injected acquisition (BitTorrent clients and swarms, mass downloaders,
// scrapers, slow crawlers). Everything derives from the seed.

export interface GeneratorOptions {
  seed: number;
  hosts: number;
  days: number;
  /** Epoch ms of the first simulated midnight (UTC); a Sunday by default. */
  start?: number;
}

interface SimHost {
  ip: string;
  role: HostRole;
  user: string;
  windows: boolean;
  /** Left switched on overnight: keeps chatting to its push service. */
  leavesOn: boolean;
  /** Site visits per hour at full attention. */
  visitRate: number;
  browserAgent: string;
  rng: Prng;
}

interface Peer {
  ip: string;
  port: number;
}

interface Torrent {
  infoHash: string;
  name: string;
  size: number;
  tracker: Service;
  peers: Peer[];
}

interface BtClient {
  name: string;
  userAgent: string;
  peerIdPrefix: string;
  listenPort: (rng: Prng) => number;
}

const BT_CLIENTS: BtClient[] = [
  { name: 'Transmission', userAgent: 'Transmission/3.00', peerIdPrefix: '-TR3000-', listenPort: () => 51413 },
  { name: 'qBittorrent', userAgent: 'qBittorrent/4.6.3', peerIdPrefix: '-qB4630-', listenPort: (rng) => rng.int(10_000, 60_000) },
  { name: 'aria2', userAgent: 'aria2/1.37.0', peerIdPrefix: '-aria2-', listenPort: (rng) => rng.int(6881, 6999) },
  { name: 'uTorrent', userAgent: 'uTorrent/3550(46096)', peerIdPrefix: '-UT3550-', listenPort: (rng) => rng.int(20_000, 65_000) },
];

const TCP_MSS = 1448;

const BROWSER_AGENTS = {
  windows: [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0',
  ],
  other: [
    'Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  ],
};

/** Accumulates events inside the corpus window and the labels of injected activity. */
class CorpusBuilder {
  readonly conns: Conn[] = [];
  readonly requests: ProxyRequest[] = [];
  readonly labels: Label[] = [];
  readonly swarms: SwarmLabel[] = [];
  readonly lookalikes = new Map<string, Set<string>>();

  constructor(
    readonly start: number,
    readonly end: number,
  ) {}

  inside(ts: number): boolean {
    return ts >= this.start && ts < this.end;
  }

  conn(c: Omit<Conn, 'packetsOut' | 'packetsIn'> & { packetsOut?: number; packetsIn?: number }): boolean {
    if (!this.inside(c.ts)) return false;
    const ts = Math.floor(c.ts);
    const durationMs = Math.max(0, Math.min(Math.round(c.durationMs), this.end - 1 - ts));
    const tcp = c.proto === 'tcp';
    const packetsIn = c.packetsIn ?? (c.bytesIn > 0 ? Math.ceil(c.bytesIn / (tcp ? TCP_MSS : 1200)) : 0) + (tcp ? 2 : 0);
    const packetsOut =
      c.packetsOut ?? (c.bytesOut > 0 ? Math.ceil(c.bytesOut / (tcp ? TCP_MSS : 1200)) : 0) + (tcp ? 2 + Math.ceil(packetsIn / 2) : 0);
    // One object shape for every connection keeps sorting and writing fast.
    this.conns.push({
      ts,
      durationMs,
      host: c.host,
      hostPort: c.hostPort,
      remote: c.remote,
      remotePort: c.remotePort,
      proto: c.proto,
      hostOriginated: c.hostOriginated,
      bytesOut: Math.round(c.bytesOut),
      bytesIn: Math.round(c.bytesIn),
      packetsOut,
      packetsIn,
      service: c.service,
      activity: c.activity,
    });
    return true;
  }

  request(r: ProxyRequest): boolean {
    const ts = Math.floor(r.ts);
    const elapsedMs = Math.round(r.elapsedMs);
    if (!this.inside(ts) || ts + elapsedMs >= this.end) return false;
    this.requests.push({
      ts,
      elapsedMs,
      host: r.host,
      user: r.user,
      method: r.method,
      url: r.url,
      status: r.status,
      bytes: Math.round(r.bytes),
      bytesOut: Math.round(r.bytesOut),
      remoteIp: r.remoteIp,
      contentType: r.contentType,
      userAgent: r.userAgent,
      activity: r.activity,
    });
    return true;
  }

  lookalike(name: string, host: string): void {
    let set = this.lookalikes.get(name);
    if (!set) this.lookalikes.set(name, (set = new Set()));
    set.add(host);
  }
}

function ephemeralPort(host: SimHost): number {
  return host.windows ? host.rng.int(49_152, 65_535) : host.rng.int(32_768, 60_999);
}

/** A connection plus, when it goes through the forward proxy, its access.log entry. */
function webFetch(
  b: CorpusBuilder,
  host: SimHost,
  f: {
    ts: number;
    durationMs: number;
    service: { name: string; ip: string; port?: number };
    bytesIn: number;
    bytesOut: number;
    activity: ActivityName;
    /** Full URL when the proxy sees the request (plain HTTP or inspected TLS); else a tunnel. */
    url?: string;
    /** Client software; the host's browser when not given. */
    userAgent?: string;
    method?: ProxyRequest['method'];
    contentType?: string;
    status?: number;
  },
): void {
  const port = f.service.port ?? 443;
  const ok = b.conn({
    ts: f.ts,
    durationMs: f.durationMs,
    host: host.ip,
    hostPort: ephemeralPort(host),
    remote: f.service.ip,
    remotePort: port,
    proto: 'tcp',
    hostOriginated: true,
    bytesOut: f.bytesOut,
    bytesIn: f.bytesIn,
    service: port === 443 ? 'ssl' : 'http',
    activity: f.activity,
  });
  if (!ok) return;
  const tunnel = f.url === undefined;
  b.request({
    ts: f.ts,
    elapsedMs: Math.max(1, f.durationMs),
    host: host.ip,
    user: host.user,
    method: tunnel ? 'CONNECT' : (f.method ?? 'GET'),
    url: tunnel ? `${f.service.name}:${port}` : f.url!,
    status: f.status ?? 200,
    bytes: f.bytesIn,
    bytesOut: f.bytesOut,
    remoteIp: f.service.ip,
    contentType: tunnel ? '-' : (f.contentType ?? 'text/html'),
    userAgent: f.userAgent ?? host.browserAgent,
    activity: f.activity,
  });
}

function serviceAt(s: Service, rng: Prng): { name: string; ip: string; port: number } {
  return { name: s.name, ip: rng.pick(s.ips), port: s.port };
}

/** Fraction of attention at a time of day for a person at work: lunch dip, ramp in and out. */
function attention(hourOfDay: number, arrive: number, leave: number, lunch: number): number {
  if (hourOfDay < arrive || hourOfDay >= leave) return 0;
  if (hourOfDay >= lunch && hourOfDay < lunch + 0.9) return 0.2;
  if (hourOfDay < arrive + 0.5 || hourOfDay > leave - 0.5) return 0.6;
  return 1;
}

function isWeekend(dayStart: number): boolean {
  const d = new Date(dayStart).getUTCDay();
  return d === 0 || d === 6;
}

// ---------------------------------------------------------------- benign activities

/** Office browsing over TLS to sites and CDNs; returns the active window (hours) or undefined. */
function browsingDay(b: CorpusBuilder, host: SimHost, dayStart: number): { from: number; to: number } | undefined {
  const rng = host.rng;
  const weekend = isWeekend(dayStart);
  if (rng.chance(weekend ? 0.88 : 0.06)) return undefined;
  let arrive: number, leave: number, lunch: number;
  if (weekend) {
    arrive = rng.range(9, 19);
    leave = arrive + rng.range(0.5, 2.5);
    lunch = 99;
  } else {
    arrive = rng.normal(8.7, 0.5);
    leave = rng.normal(17.6, 0.6);
    lunch = rng.normal(12.2, 0.25);
  }
  const rate = host.visitRate * (weekend ? 0.6 : 1);
  let t = arrive;
  for (;;) {
    t += rng.exp(1 / rate);
    if (t >= leave) break;
    if (!rng.chance(attention(t, arrive, leave, lunch))) continue;
    const ts = dayStart + t * HOUR_MS;
    const site = browsingSite(rng.zipf(BROWSING_SITE_COUNT));
    const inspected = rng.chance(0.4);
    const pageBytes = rng.logNormal(120_000, 1);
    webFetch(b, host, {
      ts,
      durationMs: Math.min(600_000, rng.logNormal(8_000, 1)),
      service: site,
      bytesIn: pageBytes,
      bytesOut: rng.logNormal(6_000, 0.6),
      activity: 'browsing',
      url: inspected ? `https://${site.name}/${rng.pick(['news', 'article', 'docs', 'p', 'search'])}/${rng.base62(8)}` : undefined,
      contentType: 'text/html',
    });
    if (rng.chance(0.6)) {
      const edge = rng.pick(CDN_EDGES);
      const asset = rng.pick([
        ['js', 'application/javascript'],
        ['webp', 'image/webp'],
        ['css', 'text/css'],
        ['woff2', 'font/woff2'],
      ] as const);
      webFetch(b, host, {
        ts: ts + rng.int(50, 900),
        durationMs: rng.logNormal(1_500, 0.8),
        service: edge,
        bytesIn: rng.logNormal(300_000, 1.2),
        bytesOut: rng.logNormal(2_000, 0.5),
        activity: 'browsing',
        url: `https://${edge.name}/assets/${rng.hex(12)}.${asset[0]}`,
        contentType: asset[1],
      });
    }
  }
  return { from: arrive, to: leave };
}

/** Push-notification keep-alives: regular, tiny, one remote; all night for machines left on. */
function pushKeepAlive(b: CorpusBuilder, host: SimHost, dayStart: number, window: { from: number; to: number } | undefined): void {
  const rng = host.rng;
  const from = host.leavesOn ? 0 : window?.from;
  const to = host.leavesOn ? 24 : window?.to;
  if (from === undefined || to === undefined) return;
  for (let t = from + rng.range(0, 0.25); t < to; t += rng.range(0.2, 0.3)) {
    webFetch(b, host, {
      ts: dayStart + t * HOUR_MS,
      durationMs: rng.range(200, 290_000),
      service: serviceAt(SERVICES.push, rng),
      bytesIn: rng.int(400, 3_000),
      bytesOut: rng.int(300, 1_500),
      activity: 'browsing',
    });
  }
  if (host.leavesOn) b.lookalike('always_on_push', host.ip);
}

function videoCalls(b: CorpusBuilder, host: SimHost, dayStart: number, window: { from: number; to: number }): void {
  const rng = host.rng;
  const calls = rng.pick([0, 0, 1, 1, 1, 2, 2, 3]);
  for (let i = 0; i < calls; i++) {
    const minutes = rng.int(15, 60);
    const startHour = rng.range(window.from, Math.max(window.from, window.to - minutes / 60));
    const ts = dayStart + startHour * HOUR_MS;
    const seconds = minutes * 60;
    const relay = serviceAt(SERVICES.conferencing, rng);
    webFetch(b, host, {
      ts: ts - 2_000,
      durationMs: seconds * 1000,
      service: { name: 'meet.conference.example', ip: relay.ip },
      bytesIn: rng.int(20_000, 80_000),
      bytesOut: rng.int(10_000, 40_000),
      activity: 'video_call',
    });
    b.conn({
      ts,
      durationMs: seconds * 1000,
      host: host.ip,
      hostPort: ephemeralPort(host),
      remote: relay.ip,
      remotePort: relay.port,
      proto: 'udp',
      hostOriginated: true,
      bytesIn: (rng.range(1.0, 2.5) * 1e6 * seconds) / 8,
      bytesOut: (rng.range(0.8, 2.0) * 1e6 * seconds) / 8,
      activity: 'video_call',
    });
    b.lookalike('video_call', host.ip);
  }
}

function osUpdate(b: CorpusBuilder, host: SimHost, dayStart: number, atHour: number): void {
  const rng = host.rng;
  const packages = rng.int(5, 40);
  let ts = dayStart + atHour * HOUR_MS;
  const mirror = host.windows ? SERVICES.osUpdates : rng.pick([SERVICES.osUpdates, SERVICES.distroMirror]);
  for (let i = 0; i < packages; i++) {
    const size = rng.logNormal(8e6, 1.2);
    const s = serviceAt(mirror, rng);
    const path = host.windows
      ? `/msdownload/update/kb${rng.int(4_000_000, 5_999_999)}.cab`
      : `/pool/main/${rng.base62(6).toLowerCase()}_${rng.int(1, 9)}.${rng.int(0, 30)}_amd64.deb`;
    webFetch(b, host, {
      ts,
      durationMs: (size / rng.range(5e6, 40e6)) * 1000,
      service: s,
      bytesIn: size,
      bytesOut: rng.int(800, 3_000),
      activity: 'os_update',
      userAgent: host.windows ? 'Microsoft-Delivery-Optimization/10.0' : 'Debian APT-HTTP/1.3 (2.6.1)',
      url: `https://${s.name}${path}`,
      contentType: 'application/octet-stream',
    });
    ts += rng.int(200, 6_000);
  }
  b.lookalike('os_update', host.ip);
}

function nightlyBackup(b: CorpusBuilder, host: SimHost, dayStart: number): void {
  const rng = host.rng;
  let remaining = rng.logNormal(20e9, 0.6);
  let ts = dayStart + HOUR_MS + rng.int(0, 60) * MINUTE_MS;
  let part = 1;
  const day = new Date(dayStart).toISOString().slice(0, 10);
  while (remaining > 0) {
    const size = Math.min(remaining, rng.range(512e6, 1024e6));
    remaining -= size;
    const duration = (size / rng.range(50e6, 110e6)) * 1000;
    const s = serviceAt(SERVICES.backup, rng);
    webFetch(b, host, {
      ts,
      durationMs: duration,
      service: s,
      bytesIn: rng.int(300, 900),
      bytesOut: size,
      activity: 'backup',
      userAgent: 'aws-sdk-go-v2/1.24.0 os/linux',
      url: `https://${s.name}/nightly/${host.ip}/${day}/part-${String(part).padStart(4, '0')}`,
      method: 'PUT',
      contentType: 'application/xml',
    });
    ts += duration + rng.int(100, 2_000);
    part++;
  }
  b.lookalike('backup', host.ip);
}

function ciPulls(b: CorpusBuilder, host: SimHost, dayStart: number): void {
  const rng = host.rng;
  const weekend = isWeekend(dayStart);
  const from = weekend ? 0 : 7.5;
  const to = weekend ? 24 : 20;
  const meanGapHours = weekend ? 1.5 : 0.2;
  for (let t = from + rng.exp(meanGapHours); t < to; t += rng.exp(meanGapHours)) {
    let ts = dayStart + t * HOUR_MS;
    const layers = rng.int(1, 6);
    const image = rng.pick(['build-base', 'node', 'jdk', 'python-ml', 'browser-tests', 'postgres']);
    for (let i = 0; i < layers; i++) {
      const size = rng.logNormal(150e6, 1.2);
      const s = serviceAt(SERVICES.registry, rng);
      const duration = (size / rng.range(40e6, 120e6)) * 1000;
      webFetch(b, host, {
        ts,
        durationMs: duration,
        service: s,
        bytesIn: size,
        bytesOut: rng.int(2_000, 8_000),
        activity: 'ci_pull',
        userAgent: 'containerd/v1.7.13',
        url: `https://${s.name}/v2/platform/${image}/blobs/sha256:${rng.hex(64)}`,
        contentType: 'application/octet-stream',
      });
      ts += rng.int(50, 800);
    }
    if (rng.chance(0.5)) osUpdate(b, host, dayStart, t + 0.05);
  }
  b.lookalike('ci_pull', host.ip);
}

/** Windows Delivery Optimization: TCP 7680 with office peers and a few external peers. */
function deliveryOptimization(
  b: CorpusBuilder,
  host: SimHost,
  dayStart: number,
  window: { from: number; to: number },
  officePeers: SimHost[],
  externalPeerPool: string[],
): void {
  const rng = host.rng;
  const startHour = rng.range(window.from, Math.max(window.from, window.to - 1));
  const sessionMs = rng.int(20, 90) * MINUTE_MS;
  const peers: string[] = [];
  const internalCount = Math.min(officePeers.length, rng.int(3, 8));
  for (let i = 0; i < internalCount; i++) peers.push(rng.pick(officePeers).ip);
  const externalCount = rng.int(1, 4);
  for (let i = 0; i < externalCount; i++) peers.push(rng.pick(externalPeerPool));
  for (const peer of new Set(peers)) {
    if (peer === host.ip) continue;
    const connections = rng.int(1, 3);
    for (let i = 0; i < connections; i++) {
      const incoming = rng.chance(0.4);
      b.conn({
        ts: dayStart + startHour * HOUR_MS + rng.int(0, sessionMs),
        durationMs: rng.logNormal(120_000, 0.8),
        host: host.ip,
        hostPort: incoming ? 7680 : ephemeralPort(host),
        remote: peer,
        remotePort: incoming ? rng.int(49_152, 65_535) : 7680,
        proto: 'tcp',
        hostOriginated: !incoming,
        bytesIn: rng.logNormal(40e6, 1),
        bytesOut: rng.logNormal(15e6, 1),
        activity: 'delivery_optimization',
      });
    }
  }
  b.lookalike('delivery_optimization', host.ip);
}

/** Throughput tests against an outside speed-test server: huge bytes, one remote, short. */
function iperfTests(b: CorpusBuilder, host: SimHost, dayStart: number): void {
  const rng = host.rng;
  const tests = rng.int(1, 6);
  const server = SERVICES.speedtest;
  for (let i = 0; i < tests; i++) {
    const ts = dayStart + rng.range(9, 18) * HOUR_MS;
    const seconds = rng.int(10, 60);
    const bytes = (rng.range(200e6, 900e6) * seconds) / 8;
    const reverse = rng.chance(0.5);
    const udp = rng.chance(0.2);
    const proto: Transport = udp ? 'udp' : 'tcp';
    b.conn({
      ts,
      durationMs: seconds * 1000 + 500,
      host: host.ip,
      hostPort: ephemeralPort(host),
      remote: server.ips[0]!,
      remotePort: server.port,
      proto: 'tcp',
      hostOriginated: true,
      bytesIn: rng.int(200, 800),
      bytesOut: rng.int(200, 800),
      activity: 'iperf',
    });
    b.conn({
      ts: ts + 100,
      durationMs: seconds * 1000,
      host: host.ip,
      hostPort: ephemeralPort(host),
      remote: server.ips[0]!,
      remotePort: server.port,
      proto,
      hostOriginated: true,
      bytesIn: reverse ? bytes : rng.int(1_000, 50_000),
      bytesOut: reverse ? rng.int(1_000, 50_000) : bytes,
      activity: 'iperf',
    });
  }
  b.lookalike('iperf', host.ip);
}

/** A person downloading one big installer from an unapproved vendor: one object, human scale. */
function largeDownload(b: CorpusBuilder, host: SimHost, dayStart: number, window: { from: number; to: number }): void {
  const rng = host.rng;
  const size = rng.range(1e9, 4e9);
  const s = serviceAt(SERVICES.vendorDownloads, rng);
  webFetch(b, host, {
    ts: dayStart + rng.range(window.from, window.to) * HOUR_MS,
    durationMs: (size / rng.range(20e6, 80e6)) * 1000,
    service: s,
    bytesIn: size,
    bytesOut: rng.int(5_000, 20_000),
    activity: 'large_download',
    url: `https://${s.name}/releases/product-${rng.int(1, 9)}.${rng.int(0, 20)}-x86_64.iso`,
    contentType: 'application/octet-stream',
  });
  b.lookalike('large_download', host.ip);
}

// ---------------------------------------------------------------- acquisition

function makeTorrent(rng: Prng, name: string): Torrent {
  const peerCount = rng.int(300, 900);
  const peers: Peer[] = [];
  for (let i = 0; i < peerCount; i++) {
    const r = rng.next();
    const port = r < 0.1 ? rng.int(6881, 6889) : r < 0.15 ? 51413 : rng.int(1025, 65_535);
    peers.push({ ip: consumerAddress(rng.int(0, (1 << 22) - 1)), port });
  }
  return {
    infoHash: rng.hex(40),
    name,
    size: rng.range(2e9, 30e9),
    tracker: rng.chance(0.5) ? SERVICES.trackerHttp : SERVICES.trackerAlt,
    peers,
  };
}

function percentEncodeHex(hex: string): string {
  let out = '';
  for (let i = 0; i < hex.length; i += 2) {
    const byte = parseInt(hex.slice(i, i + 2), 16);
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9.\-_~]/.test(c) ? c : `%${hex.slice(i, i + 2).toUpperCase()}`;
  }
  return out;
}

/** A BitTorrent client on `host` from `start` to `end`: peers, DHT, tracker announces. */
function bittorrentClient(
  b: CorpusBuilder,
  host: SimHost,
  rng: Prng,
  torrent: Torrent,
  client: BtClient,
  start: number,
  end: number,
): { first: number; last: number } {
  const listenPort = client.listenPort(rng);
  const peerId = `${client.peerIdPrefix}${rng.base62(20 - client.peerIdPrefix.length)}`;
  let first = Infinity;
  let last = -Infinity;
  const note = (ts: number, ok: boolean): void => {
    if (!ok) return;
    first = Math.min(first, ts);
    last = Math.max(last, ts);
  };
  // The torrent comes from an index site: a .torrent file or a magnet link.
  const index = serviceAt(SERVICES.torrentIndex, rng);
  const slug = torrent.name.replace(/[^A-Za-z0-9.]+/g, '.');
  const viaMagnet = rng.chance(0.5);
  const indexUrl = viaMagnet
    ? `https://${index.name}/go?to=magnet%3A%3Fxt%3Durn%3Abtih%3A${torrent.infoHash}%26dn%3D${slug}`
    : `https://${index.name}/download/${slug}.torrent`;
  const indexTs = start - rng.int(10_000, 120_000);
  webFetch(b, host, {
    ts: indexTs,
    durationMs: rng.int(200, 1_500),
    service: index,
    bytesIn: viaMagnet ? rng.int(2_000, 9_000) : rng.int(15_000, 90_000),
    bytesOut: rng.int(500, 1_500),
    activity: 'bittorrent',
    url: indexUrl,
    contentType: viaMagnet ? 'text/html' : 'application/x-bittorrent',
    status: viaMagnet ? 302 : 200,
  });
  note(indexTs, b.inside(indexTs));

  let downloaded = 0;
  let uploaded = 0;
  const tracker = serviceAt(torrent.tracker, rng);
  // Right after the first announce a client dials many of the peers the tracker returned at once
  // (libtorrent opens up to 30 connections a second, Transmission fills its per-torrent peer
  // limit): the first minute is a burst of short connections, a third of them unanswered.
  const startBurst = (announcedAt: number): void => {
    const dials = rng.int(15, 40);
    for (let i = 0; i < dials; i++) {
      const peer = rng.pick(torrent.peers);
      const ts = announcedAt + rng.int(300, 60_000);
      const answered = rng.chance(0.67);
      const utp = rng.chance(0.3);
      const ok = b.conn({
        ts,
        durationMs: answered ? rng.int(200, 20_000) : 0,
        host: host.ip,
        hostPort: utp ? listenPort : ephemeralPort(host),
        remote: peer.ip,
        remotePort: peer.port,
        proto: utp ? 'udp' : 'tcp',
        hostOriginated: true,
        bytesOut: answered ? rng.int(400, 4_000) : 60,
        bytesIn: answered ? rng.int(300, 200_000) : 0,
        packetsOut: answered ? rng.int(4, 20) : 1,
        packetsIn: answered ? rng.int(3, 40) : 0,
        activity: 'bittorrent',
      });
      note(ts, ok);
    }
  };
  let nextAnnounce = start;
  let announceEvent = 'started';
  for (let hourStart = start; hourStart < end; hourStart += HOUR_MS) {
    while (nextAnnounce < Math.min(end, hourStart + HOUR_MS)) {
      const left = Math.max(0, Math.round(torrent.size - downloaded));
      const url =
        `http://${tracker.name}${tracker.port === 80 ? '' : `:${tracker.port}`}/announce?info_hash=${percentEncodeHex(torrent.infoHash)}` +
        `&peer_id=${peerId}&port=${listenPort}&uploaded=${Math.round(uploaded)}&downloaded=${Math.round(downloaded)}&left=${left}` +
        `&compact=1${announceEvent ? `&event=${announceEvent}` : ''}`;
      const ok = b.conn({
        ts: nextAnnounce,
        durationMs: rng.int(80, 900),
        host: host.ip,
        hostPort: ephemeralPort(host),
        remote: tracker.ip,
        remotePort: tracker.port,
        proto: 'tcp',
        hostOriginated: true,
        bytesIn: rng.int(200, 600),
        bytesOut: url.length + 120,
        service: 'http',
        activity: 'bittorrent',
      });
      b.request({
        ts: nextAnnounce,
        elapsedMs: rng.int(80, 900),
        host: host.ip,
        user: host.user,
        method: 'GET',
        url,
        status: 200,
        bytes: rng.int(200, 600),
        bytesOut: url.length + 120,
        remoteIp: tracker.ip,
        contentType: 'text/plain',
        userAgent: client.userAgent,
        activity: 'bittorrent',
      });
      note(nextAnnounce, ok);
      if (announceEvent === 'started') startBurst(nextAnnounce);
      announceEvent = '';
      nextAnnounce += 30 * MINUTE_MS;
    }
    const slotEnd = Math.min(end, hourStart + HOUR_MS);
    const peers = rng.int(30, 100);
    for (let i = 0; i < peers; i++) {
      const peer = rng.pick(torrent.peers);
      const ts = hourStart + rng.int(0, slotEnd - hourStart - 1);
      const utp = rng.chance(0.3);
      const incoming = rng.chance(0.4);
      const seeding = downloaded >= torrent.size;
      const bytesIn = seeding ? rng.logNormal(50_000, 1) : rng.logNormal(3e6, 1.2);
      const bytesOut = seeding ? rng.logNormal(2e6, 1.2) : rng.logNormal(400_000, 1.2);
      const ok = b.conn({
        ts,
        durationMs: Math.min(1_800_000, rng.logNormal(90_000, 1.2)),
        host: host.ip,
        hostPort: incoming || utp ? listenPort : ephemeralPort(host),
        remote: peer.ip,
        remotePort: incoming && !utp ? rng.int(1025, 65_535) : peer.port,
        proto: utp ? 'udp' : 'tcp',
        hostOriginated: !incoming,
        bytesIn,
        bytesOut,
        activity: 'bittorrent',
      });
      if (ok) {
        downloaded += bytesIn;
        uploaded += bytesOut;
      }
      note(ts, ok);
    }
    // DHT: small UDP queries to many nodes that are not in the swarm, a third unanswered.
    const queries = rng.int(20, 60);
    for (let i = 0; i < queries; i++) {
      const ts = hourStart + rng.int(0, slotEnd - hourStart - 1);
      const answered = rng.chance(0.67);
      const ok = b.conn({
        ts,
        durationMs: answered ? rng.int(20, 800) : 0,
        host: host.ip,
        hostPort: listenPort,
        remote: consumerAddress(rng.int(0, (1 << 22) - 1)),
        remotePort: rng.int(1025, 65_535),
        proto: 'udp',
        hostOriginated: true,
        bytesOut: rng.int(60, 120),
        bytesIn: answered ? rng.int(100, 400) : 0,
        packetsOut: 1,
        packetsIn: answered ? 1 : 0,
        activity: 'bittorrent',
      });
      note(ts, ok);
    }
  }
  return { first, last };
}

/** Many large objects per minute with sequential names from a few unapproved remotes. */
function massDownload(
  b: CorpusBuilder,
  host: SimHost,
  rng: Prng,
  source: Service,
  profile: { path: string; ext: string; contentType: string; medianBytes: number; perMinute: number; firstIndex: number; userAgent: string },
  start: number,
  end: number,
): { first: number; last: number; objects: number } {
  let first = Infinity;
  let last = -Infinity;
  let n = profile.firstIndex;
  let objects = 0;
  for (let ts = start; ts < end; ts += rng.exp(60_000 / profile.perMinute)) {
    const size = rng.logNormal(profile.medianBytes, 0.6);
    const s = serviceAt(source, rng);
    const scheme = s.port === 80 ? 'http' : 'https';
    const before = b.conns.length;
    webFetch(b, host, {
      ts,
      durationMs: (size / rng.range(15e6, 60e6)) * 1000,
      service: s,
      bytesIn: size,
      bytesOut: rng.int(400, 1_200),
      activity: 'mass_download',
      userAgent: profile.userAgent,
      url: `${scheme}://${s.name}${profile.path}${String(n).padStart(6, '0')}.${profile.ext}`,
      contentType: profile.contentType,
    });
    if (b.conns.length > before) {
      first = Math.min(first, ts);
      last = Math.max(last, ts);
      objects++;
    }
    n++;
  }
  return { first, last, objects };
}

/** A scraper walking sequential item pages of one site over keep-alive connections. */
function scraper(b: CorpusBuilder, host: SimHost, rng: Prng, site: Service, start: number, end: number): { first: number; last: number } {
  const perMinute = rng.range(20, 60);
  let item = rng.int(100_000, 900_000);
  let first = Infinity;
  let last = -Infinity;
  let ts = start;
  const ip = rng.pick(site.ips);
  while (ts < end) {
    const batch = rng.int(30, 100);
    const connStart = ts;
    let bytesIn = 0;
    let bytesOut = 0;
    for (let i = 0; i < batch && ts < end; i++) {
      const size = rng.logNormal(60_000, 0.5);
      const elapsed = rng.int(80, 900);
      const ok = b.request({
        ts,
        elapsedMs: elapsed,
        host: host.ip,
        user: host.user,
        method: 'GET',
        url: `https://${site.name}/item/${item}`,
        status: rng.chance(0.02) ? 404 : 200,
        bytes: size,
        bytesOut: 600,
        remoteIp: ip,
        contentType: 'text/html',
        userAgent: 'Mozilla/5.0 (compatible; CatalogBot/2.1)',
        activity: 'scraper',
      });
      if (ok) {
        first = Math.min(first, ts);
        last = Math.max(last, ts);
      }
      bytesIn += size;
      bytesOut += 600;
      item++;
      ts += rng.exp(60_000 / perMinute);
    }
    b.conn({
      ts: connStart,
      durationMs: ts - connStart,
      host: host.ip,
      hostPort: ephemeralPort(host),
      remote: ip,
      remotePort: 443,
      proto: 'tcp',
      hostOriginated: true,
      bytesIn,
      bytesOut,
      service: 'ssl',
      activity: 'scraper',
    });
  }
  return { first, last };
}

/** Slow and steady: a fetch every ~30 s, most hours of the day, a different small site each time. */
function slowCrawler(b: CorpusBuilder, host: SimHost, rng: Prng, start: number, end: number): { first: number; last: number; fetches: number } {
  const period = rng.range(10_000, 35_000);
  let first = Infinity;
  let last = -Infinity;
  let fetches = 0;
  // A few idle hours a day (maintenance, rate-limit back-off), never enough to look human.
  const idleHours = new Set<number>();
  while (idleHours.size < 3) idleHours.add(rng.int(0, 23));
  for (let ts = start; ts < end; ts += rng.normal(period, period * 0.05)) {
    if (idleHours.has(new Date(ts).getUTCHours())) continue;
    const site = crawlSite(rng.int(0, CRAWL_SITE_COUNT - 1));
    const before = b.conns.length;
    webFetch(b, host, {
      ts,
      durationMs: rng.int(300, 3_000),
      service: site,
      bytesIn: rng.logNormal(45_000, 0.6),
      bytesOut: rng.int(500, 1_200),
      activity: 'slow_crawler',
      userAgent: 'Go-http-client/1.1',
      url: `https://${site.name}/post/${rng.int(1, 4_000)}`,
      contentType: 'text/html',
    });
    if (b.conns.length > before) {
      first = Math.min(first, ts);
      last = Math.max(last, ts);
      fetches++;
    }
  }
  return { first, last, fetches };
}

// ---------------------------------------------------------------- the company

function makeHosts(seed: number, count: number): SimHost[] {
  const rng = new Prng(seed, 'hosts');
  const servers = Math.max(3, Math.round(count * 0.04));
  const ci = Math.max(2, Math.round(count * 0.03));
  const labs = Math.max(2, Math.round(count * 0.03));
  const workstations = Math.max(1, count - servers - ci - labs);
  const hosts: SimHost[] = [];
  const add = (ip: string, role: HostRole, user: string, windows: boolean): void => {
    hosts.push({
      browserAgent: rng.pick(windows ? BROWSER_AGENTS.windows : BROWSER_AGENTS.other),
      ip,
      role,
      user,
      windows,
      leavesOn: role !== 'workstation' || rng.chance(0.4),
      visitRate: rng.logNormal(22, 0.35),
      rng: new Prng(seed, `host:${ip}`),
    });
  };
  for (let i = 0; i < workstations; i++) add(`10.20.${Math.floor(i / 250)}.${(i % 250) + 5}`, 'workstation', `u${String(i).padStart(4, '0')}`, rng.chance(0.6));
  for (let i = 0; i < servers; i++) add(`10.30.0.${i + 10}`, 'server', '-', false);
  for (let i = 0; i < ci; i++) add(`10.40.0.${i + 10}`, 'ci_runner', '-', false);
  for (let i = 0; i < labs; i++) add(`10.50.0.${i + 10}`, 'lab', `lab${i}`, false);
  return hosts;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function generateCorpus(options: GeneratorOptions): Corpus {
  const start = options.start ?? DEFAULT_START;
  const end = start + options.days * DAY_MS;
  const b = new CorpusBuilder(start, end);
  const hosts = makeHosts(options.seed, options.hosts);
  const windowsDesktops = hosts.filter((h) => h.role === 'workstation' && h.windows);
  const world = new Prng(options.seed, 'world');
  const externalDoPeers = Array.from({ length: 40 }, () => consumerAddress(world.int(0, (1 << 22) - 1)));

  for (let day = 0; day < options.days; day++) {
    const dayStart = start + day * DAY_MS;
    const weekend = isWeekend(dayStart);
    for (const host of hosts) {
      const rng = host.rng;
      switch (host.role) {
        case 'workstation': {
          const window = browsingDay(b, host, dayStart);
          pushKeepAlive(b, host, dayStart, window);
          if (!window) break;
          if (!weekend) videoCalls(b, host, dayStart, window);
          if (rng.chance(0.5)) osUpdate(b, host, dayStart, rng.range(window.from, window.to));
          if (host.windows && !weekend && rng.chance(0.35)) deliveryOptimization(b, host, dayStart, window, windowsDesktops, externalDoPeers);
          if (!weekend && rng.chance(0.04)) largeDownload(b, host, dayStart, window);
          break;
        }
        case 'server':
          pushKeepAlive(b, host, dayStart, undefined);
          nightlyBackup(b, host, dayStart);
          if (rng.chance(0.7)) osUpdate(b, host, dayStart, rng.range(3, 5));
          break;
        case 'ci_runner':
          ciPulls(b, host, dayStart);
          break;
        case 'lab': {
          const window = browsingDay(b, host, dayStart);
          pushKeepAlive(b, host, dayStart, window);
          if (!weekend) iperfTests(b, host, dayStart);
          break;
        }
      }
    }
  }

  injectAcquisition(b, options, hosts);

  b.conns.sort((x, y) => x.ts - y.ts);
  b.requests.sort((x, y) => x.ts + x.elapsedMs - (y.ts + y.elapsedMs));
  const labelled = new Set(b.labels.map((l) => l.host));
  const truth: GroundTruth = {
    seed: options.seed,
    start: iso(start),
    end: iso(end),
    days: options.days,
    hosts: hosts.map((h) => ({ ip: h.ip, role: h.role, user: h.user })),
    benign_hosts: hosts.filter((h) => !labelled.has(h.ip)).map((h) => h.ip),
    labels: b.labels,
    swarms: b.swarms,
    lookalikes: Object.fromEntries([...b.lookalikes].map(([k, v]) => [k, [...v].sort()])),
  };
  return { conns: b.conns, requests: b.requests, truth };
}

/** How much acquisition to inject for a company of `hosts` hosts. */
export function acquisitionPlan(hosts: number): {
  btSwarmSizes: number[];
  soloBt: number;
  massDownloaders: number;
  scrapers: number;
  slowCrawlers: number;
  bulkSwarmSize: number;
} {
  const big = hosts >= 200;
  return {
    btSwarmSizes: big ? [4, 3, 2] : [3, 2],
    soloBt: big ? 2 : 1,
    massDownloaders: big ? 3 : 1,
    scrapers: big ? 2 : 1,
    slowCrawlers: big ? 3 : 1,
    bulkSwarmSize: big ? 3 : 2,
  };
}

function injectAcquisition(b: CorpusBuilder, options: GeneratorOptions, hosts: SimHost[]): void {
  const rng = new Prng(options.seed, 'acquisition');
  const plan = acquisitionPlan(options.hosts);
  const candidates = hosts.filter((h) => h.role === 'workstation' || h.role === 'lab');
  const taken = new Set<string>();
  const nextHost = (): SimHost => {
    for (;;) {
      const h = rng.pick(candidates);
      if (!taken.has(h.ip)) {
        taken.add(h.ip);
        return h;
      }
      if (taken.size >= candidates.length) throw new Error('not enough hosts for the acquisition plan');
    }
  };
  const span = b.end - b.start;
  /** A start leaving at least `minMs` of corpus after it. */
  const startWithin = (minMs: number): number => b.start + 4 * HOUR_MS + rng.range(0, Math.max(0, span - 4 * HOUR_MS - minMs));

  const addLabel = (host: SimHost, label: Omit<Label, 'host' | 'start' | 'end'>, first: number, last: number): void => {
    if (!Number.isFinite(first)) return;
    b.labels.push({ host: host.ip, ...label, start: iso(first), end: iso(last) });
  };

  const btSwarm = (size: number, swarmIndex: number | undefined, torrentName: string): void => {
    const torrent = makeTorrent(rng, torrentName);
    const id = swarmIndex === undefined ? undefined : `bt-swarm-${swarmIndex}`;
    const begin = size > 1 ? startWithin(8 * HOUR_MS) : startWithin(6 * HOUR_MS);
    const members: { host: string; first: number; last: number }[] = [];
    for (let i = 0; i < size; i++) {
      const host = nextHost();
      const client = rng.pick(BT_CLIENTS);
      const start = begin + (i === 0 ? 0 : rng.int(10, 240) * MINUTE_MS);
      const duration = size > 1 ? rng.range(3, 12) * HOUR_MS : rng.range(6, 36) * HOUR_MS;
      const r = bittorrentClient(b, host, new Prng(options.seed, `bt:${host.ip}`), torrent, client, start, Math.min(b.end, start + duration));
      addLabel(
        host,
        {
          kind: 'bittorrent',
          technique: 'bt_client',
          ...(id ? { swarm: id } : {}),
          detail: { client: client.name, info_hash: torrent.infoHash, torrent: torrent.name, tracker: torrent.tracker.name },
        },
        r.first,
        r.last,
      );
      if (Number.isFinite(r.first)) members.push({ host: host.ip, first: r.first, last: r.last });
    }
    if (id && members.length >= 2) {
      b.swarms.push({
        id,
        kind: 'bittorrent',
        hosts: members.map((m) => m.host),
        key: torrent.infoHash,
        start: iso(Math.min(...members.map((m) => m.first))),
        end: iso(Math.max(...members.map((m) => m.last))),
      });
    }
  };

  const titles = ['Big.Show.S02.1080p.WEB', 'Blockbuster.2026.2160p.REMUX', 'Game.Of.Codes.Complete', 'Music.Discography.FLAC', 'Ebook.Collection.2026'];
  plan.btSwarmSizes.forEach((size, i) => btSwarm(size, i + 1, titles[i % titles.length]!));
  for (let i = 0; i < plan.soloBt; i++) btSwarm(1, undefined, titles[(plan.btSwarmSizes.length + i) % titles.length]!);

  const downloadProfiles = [
    { source: SERVICES.bigFiles, path: '/videos/clip-', ext: 'mp4', contentType: 'video/mp4', medianBytes: 60e6, perMinute: 2, userAgent: 'Wget/1.21.4' },
    { source: SERVICES.dumpSite, path: '/archive/pack-', ext: 'zip', contentType: 'application/zip', medianBytes: 25e6, perMinute: 5, userAgent: 'python-requests/2.31.0' },
    { source: SERVICES.videoHoard, path: '/photos/img_', ext: 'jpg', contentType: 'image/jpeg', medianBytes: 4e6, perMinute: 20, userAgent: 'gallery-dl/1.26.9' },
  ];
  for (let i = 0; i < plan.massDownloaders; i++) {
    const host = nextHost();
    const p = downloadProfiles[i % downloadProfiles.length]!;
    const start = startWithin(4 * HOUR_MS);
    const r = massDownload(b, host, new Prng(options.seed, `mass:${host.ip}`), p.source, { ...p, firstIndex: rng.int(1, 5_000) }, start, start + rng.range(1, 3) * HOUR_MS);
    addLabel(host, { kind: 'bulk_acquisition', technique: 'mass_download', detail: { source: p.source.name, objects: r.objects } }, r.first, r.last);
  }

  const scrapeTargets = [SERVICES.catalog, SERVICES.forum];
  for (let i = 0; i < plan.scrapers; i++) {
    const host = nextHost();
    const site = scrapeTargets[i % scrapeTargets.length]!;
    const start = startWithin(8 * HOUR_MS);
    const r = scraper(b, host, new Prng(options.seed, `scrape:${host.ip}`), site, start, start + rng.range(3, 8) * HOUR_MS);
    addLabel(host, { kind: 'bulk_acquisition', technique: 'scraper', detail: { source: site.name } }, r.first, r.last);
  }

  for (let i = 0; i < plan.slowCrawlers; i++) {
    const host = nextHost();
    const start = b.start + rng.range(1, Math.min(10, span / HOUR_MS / 4)) * HOUR_MS;
    const r = slowCrawler(b, host, new Prng(options.seed, `crawl:${host.ip}`), start, b.end);
    addLabel(host, { kind: 'bulk_acquisition', technique: 'slow_crawler', detail: { fetches: r.fetches } }, r.first, r.last);
  }

  // Several hosts pulling the same unapproved dataset the same day: a swarm of bulk acquisition.
  const begin = startWithin(8 * HOUR_MS);
  const firstShard = rng.int(0, 100);
  const members: { host: string; first: number; last: number }[] = [];
  for (let i = 0; i < plan.bulkSwarmSize; i++) {
    const host = nextHost();
    const start = begin + (i === 0 ? 0 : rng.int(10, 180) * MINUTE_MS);
    const r = massDownload(
      b,
      host,
      new Prng(options.seed, `dataset:${host.ip}`),
      SERVICES.datasetMirror,
      { path: '/corpus/v3/shard-', ext: 'tar', contentType: 'application/x-tar', medianBytes: 120e6, perMinute: 1.5, firstIndex: firstShard, userAgent: 'curl/8.5.0' },
      start,
      start + rng.range(1, 3) * HOUR_MS,
    );
    addLabel(host, { kind: 'bulk_acquisition', technique: 'mass_download', swarm: 'bulk-swarm-1', detail: { source: SERVICES.datasetMirror.name, objects: r.objects } }, r.first, r.last);
    if (Number.isFinite(r.first)) members.push({ host: host.ip, first: r.first, last: r.last });
  }
  if (members.length >= 2) {
    b.swarms.push({
      id: 'bulk-swarm-1',
      kind: 'bulk_acquisition',
      hosts: members.map((m) => m.host),
      key: SERVICES.datasetMirror.name,
      start: iso(Math.min(...members.map((m) => m.first))),
      end: iso(Math.max(...members.map((m) => m.last))),
    });
  }
}
