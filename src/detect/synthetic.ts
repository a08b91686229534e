import type { AppEvidence, ApprovalRef, FlowRecord, ObjectFacts } from '../record.js';
import type { IncidentChange } from '../incidents/types.js';
import type { DetectionEngine } from './types.js';

// Deterministic synthetic egress for unit tests and the benchmark: enriched records built
// directly (host/remote/approval already set), from a seeded generator.

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FlowSpec {
  host: string;
  remote: string;
  ts: number;
  tsEnd?: number;
  bytesIn?: number;
  bytesOut?: number;
  remotePort?: number;
  hostPort?: number;
  proto?: number;
  name?: string;
  app?: AppEvidence;
  approval?: ApprovalRef | null;
  user?: string;
  url?: string;
  object?: ObjectFacts;
}

/** An enriched egress record (the host initiated it). */
export function flow(s: FlowSpec): FlowRecord {
  const remotePort = s.remotePort ?? 443;
  const hostPort = s.hostPort ?? 50_000;
  const rec: FlowRecord = {
    ts: s.ts,
    tsEnd: s.tsEnd ?? s.ts,
    src: s.host,
    srcPort: hostPort,
    dst: s.remote,
    dstPort: remotePort,
    proto: s.proto ?? 6,
    bytesOut: s.bytesOut ?? 500,
    bytesIn: s.bytesIn ?? 5_000,
    packetsOut: 5,
    packetsIn: 10,
    host: s.host,
    remote: s.name ? { ip: s.remote, port: remotePort, name: s.name } : { ip: s.remote, port: remotePort },
    source: { type: s.object ? 'squid' : 'zeek', id: 'synthetic' },
    approval: s.approval ?? null,
  };
  if (s.app) rec.app = s.app;
  if (s.user) rec.user = s.user;
  if (s.url) rec.url = s.url;
  if (s.object) rec.object = s.object;
  return rec;
}

export function ipOf(n: number, prefix = 100): string {
  return `${prefix}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface RunResult {
  changes: IncidentChange[];
  /** Final state of each incident, by id, in first-seen order. */
  final: Map<string, IncidentChange['incident']>;
}

/**
 * Drive an engine the way the pipeline does: records in event-time order, in batches of
 * `batchMs` of event time, `advance` after each batch, `flush` at the end when asked.
 */
export function drive(engine: DetectionEngine, records: FlowRecord[], options: { batchMs?: number; flush?: boolean } = {}): RunResult {
  const batchMs = options.batchMs ?? 10_000;
  const sorted = [...records].sort((a, b) => a.ts - b.ts);
  const changes: IncidentChange[] = [];
  let batchEnd = -Infinity;
  let maxTs = -Infinity;
  for (const rec of sorted) {
    if (rec.ts >= batchEnd) {
      if (Number.isFinite(maxTs)) changes.push(...engine.advance(maxTs));
      batchEnd = (Math.floor(rec.ts / batchMs) + 1) * batchMs;
    }
    engine.observe(rec);
    if (rec.ts > maxTs) maxTs = rec.ts;
  }
  if (Number.isFinite(maxTs)) changes.push(...engine.advance(maxTs));
  if (options.flush !== false) changes.push(...engine.flush());
  const final = new Map<string, IncidentChange['incident']>();
  for (const c of changes) final.set(c.incident.id, c.incident);
  return { changes, final };
}

const MIB = 1024 * 1024;

/** A person browsing during office hours: bursts of page loads, idle gaps, tens of sites. */
export function officeBrowsing(host: string, dayStart: number, rand: () => number, user?: string): FlowRecord[] {
  const out: FlowRecord[] = [];
  for (let hour = 9; hour < 17; hour++) {
    const pages = 5 + Math.floor(rand() * 20);
    for (let p = 0; p < pages; p++) {
      const t0 = dayStart + hour * 3_600_000 + Math.floor(rand() * 3_600_000);
      const site = Math.floor(rand() * 300);
      const resources = 3 + Math.floor(rand() * 25);
      for (let r = 0; r < resources; r++) {
        const remote = ipOf(site * 4 + (r % 4), 151);
        const name = `site${site}.example.com`;
        const key = `http://${name}/asset/${Math.floor(rand() * 1e6)}`;
        out.push(
          flow({
            host,
            remote,
            name,
            ts: t0 + Math.floor(rand() * 3000),
            bytesIn: Math.floor(2_000 + rand() * 400_000),
            bytesOut: 800,
            ...(user ? { user, url: key, object: { kind: r === 0 ? 'document' : 'other', key } } : {}),
          }),
        );
      }
    }
  }
  return out;
}

/** A long video call: UDP to one conferencing server, one record per minute (flow export). */
export function videoCall(host: string, start: number, minutes: number): FlowRecord[] {
  const out: FlowRecord[] = [];
  for (let m = 0; m < minutes; m++) {
    const ts = start + m * 60_000;
    out.push(flow({ host, remote: '162.255.1.10', remotePort: 8801, proto: 17, ts, tsEnd: ts + 59_000, bytesIn: 18 * MIB, bytesOut: 12 * MIB }));
  }
  return out;
}

/** Bulk acquisition: a burst from hundreds of unapproved servers. */
export function bulkBurst(host: string, start: number, minutes: number, rand: () => number): FlowRecord[] {
  const out: FlowRecord[] = [];
  for (let m = 0; m < minutes; m++) {
    for (let i = 0; i < 400; i++) {
      const ts = start + m * 60_000 + Math.floor((i * 60_000) / 400);
      const server = Math.floor(rand() * 5000);
      out.push(flow({ host, remote: ipOf(server, 203), ts, bytesIn: Math.floor(1.5 * MIB + rand() * MIB), bytesOut: 2_000 }));
    }
  }
  return out;
}

/** A slow, steady crawler: one proxy request every ~2 s around the clock, small pages. */
export function slowCrawler(host: string, start: number, hours: number, rand: () => number, user = 'svc-crawler'): FlowRecord[] {
  const out: FlowRecord[] = [];
  let ts = start;
  let n = 0;
  while (ts < start + hours * 3_600_000) {
    const site = n % 2000;
    const name = `www.site${site}.org`;
    const key = `http://${name}/page/${n}`;
    out.push(flow({ host, remote: ipOf(site, 198), name, ts, bytesIn: 20_000 + Math.floor(rand() * 30_000), bytesOut: 600, user, url: key, object: { kind: 'document', key } }));
    ts += 1_500 + Math.floor(rand() * 1_000);
    n++;
  }
  return out;
}

const TEST_HASH = 'dcfcdccfb9e670ccc3dd40c78c161f2bea243126';

/** A BitTorrent client seen by DPI: handshakes with an info hash, DHT, many peers. */
export function bittorrentClient(host: string, start: number, minutes: number, rand: () => number, infoHash = TEST_HASH): FlowRecord[] {
  const out: FlowRecord[] = [];
  for (let m = 0; m < minutes; m++) {
    for (let i = 0; i < 30; i++) {
      const ts = start + m * 60_000 + i * 2_000;
      const peer = Math.floor(rand() * 3000);
      const dht = i % 3 === 0;
      out.push(
        flow({
          host,
          remote: ipOf(peer, 77),
          remotePort: 10_000 + (peer % 50_000),
          proto: dht ? 17 : 6,
          ts,
          bytesIn: dht ? 300 : Math.floor(256 * 1024 + rand() * MIB),
          bytesOut: 20_000,
          app: dht ? { name: 'bittorrent', via: 'dht', infoHash } : { name: 'bittorrent', via: 'handshake', infoHash, peerId: '-TR3000-abcdefghijkl', client: 'Transmission' },
        }),
      );
    }
  }
  return out;
}

export { TEST_HASH };
