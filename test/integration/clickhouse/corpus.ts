import type { Incident, IncidentChange } from '../../../src/incidents/types.js';
import type { FlowRecord } from '../../../src/record.js';
import type { SinkEntry } from '../../../src/sinks/types.js';
import { seededRandom } from '../../support/random.js';

// A deterministic synthetic corpus for the ClickHouse sink tests: incident lifecycles with
// monotonically increasing versions, triage events, and enriched flow records spread over
// hosts, remotes and minutes. Totals are computed here so the tests compare exactly.


const BASE_MS = Date.UTC(2026, 5, 11, 9, 0, 0);

export function incident(id: string, version: number, status: 'open' | 'resolved', hosts: string[], infoHash: string, minuteOffset: number, bytes: number): Incident {
  return {
    id,
    kind: 'bittorrent',
    status,
    hosts,
    first_seen: new Date(BASE_MS).toISOString(),
    last_seen: new Date(BASE_MS + minuteOffset * 60_000).toISOString(),
    score: Math.min(100, 40 + version * 5),
    severity: version > 3 ? 'high' : 'medium',
    approved_source: null,
    evidence: {
      bytes_in: bytes,
      bytes_out: Math.floor(bytes / 10),
      peers: 10 + version,
      info_hashes: [infoHash],
      remotes: ['198.51.100.7', 'tracker.example.org'],
      signals: [{ name: 'fanout', value: 100 + version, threshold: 50, weight: 0.3 }],
    },
    rule: 'bt.peer-wire@1',
    version,
  };
}

export interface IncidentCorpus {
  entries: SinkEntry[];
  /** id → the last version sent and its status. */
  latest: Map<string, { version: number; status: string; bytesIn: number }>;
  changes: number;
  triage: number;
}

/** `count` incidents, each opened, updated a few times and (mostly) resolved, plus triage events. */
export function incidentCorpus(count: number, seed = 1, idPrefix = 'inc'): IncidentCorpus {
  const random = seededRandom(seed);
  const entries: SinkEntry[] = [];
  const latest = new Map<string, { version: number; status: string; bytesIn: number }>();
  let changes = 0;
  let triage = 0;
  for (let n = 0; n < count; n++) {
    const id = `${idPrefix}-${String(n).padStart(5, '0')}`;
    const hosts = [`10.20.${n % 7}.${(n % 200) + 1}`];
    const hash = (n % 11).toString(16).padStart(2, '0').repeat(20);
    const updates = 1 + Math.floor(random() * 4);
    let version = 1;
    let bytes = 1_000_000 + Math.floor(random() * 1e6);
    const push = (change: IncidentChange) => {
      entries.push({ type: 'incident', change });
      latest.set(id, { version: change.incident.version ?? 0, status: change.incident.status, bytesIn: change.incident.evidence.bytes_in });
      changes += 1;
    };
    push({ change: 'opened', incident: incident(id, version, 'open', hosts, hash, 0, bytes) });
    for (let u = 0; u < updates; u++) {
      version += 1;
      bytes += Math.floor(random() * 1e6);
      push({ change: 'updated', incident: incident(id, version, 'open', hosts, hash, u + 1, bytes) });
    }
    if (random() < 0.7) {
      version += 1;
      push({ change: 'resolved', incident: incident(id, version, 'resolved', hosts, hash, updates + 1, bytes) });
      entries.push({ type: 'audit', event: { action: 'triage', at: BASE_MS + n * 1000, incident_id: id, actor: 'analyst1', verdict: 'false_positive', note: `checked ${n}` } });
      triage += 1;
    }
  }
  return { entries, latest, changes, triage };
}

export interface FlowTotals {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  records: number;
  peers: Set<string>;
}

export interface FlowCorpus {
  batches: FlowRecord[][];
  perHost: Map<string, FlowTotals>;
  records: number;
}

/** Enriched records for `hosts` internal hosts over `minutes` minutes, in batches of `batchSize`. */
export function flowCorpus(options: { hosts: number; remotes: number; minutes: number; records: number; batchSize: number; seed?: number; startMs?: number }): FlowCorpus {
  const random = seededRandom(options.seed ?? 7);
  const start = options.startMs ?? BASE_MS;
  const perHost = new Map<string, FlowTotals>();
  const batches: FlowRecord[][] = [];
  let batch: FlowRecord[] = [];
  for (let i = 0; i < options.records; i++) {
    const host = `10.20.${Math.floor(random() * options.hosts) % 250}.${(Math.floor(random() * options.hosts) % 250) + 1}`;
    const r = Math.floor(random() * options.remotes);
    const remoteIp = `203.0.${r >> 8}.${r & 255}`;
    const ts = start + Math.floor(random() * options.minutes * 60_000);
    const rec: FlowRecord = {
      ts,
      tsEnd: ts + 1000,
      src: host,
      srcPort: 40000 + (i % 1000),
      dst: remoteIp,
      dstPort: 6881,
      proto: 6,
      bytesOut: Math.floor(random() * 10_000),
      bytesIn: Math.floor(random() * 1_000_000),
      packetsOut: 1 + Math.floor(random() * 10),
      packetsIn: 1 + Math.floor(random() * 100),
      host,
      remote: { ip: remoteIp, port: 6881, ...(r % 3 === 0 ? { name: `peer${r}.example.net` } : {}) },
      source: { type: 'netflow', id: 'test' },
      approval: r % 5 === 0 ? { name: 'mirror', owner: 'it', expired: false, matchedBy: 'cidr' } : null,
    };
    let t = perHost.get(host);
    if (!t) {
      t = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, records: 0, peers: new Set() };
      perHost.set(host, t);
    }
    t.bytesIn += rec.bytesIn;
    t.bytesOut += rec.bytesOut;
    t.packetsIn += rec.packetsIn;
    t.packetsOut += rec.packetsOut;
    t.records += 1;
    t.peers.add(remoteIp);
    batch.push(rec);
    if (batch.length >= options.batchSize) {
      batches.push(batch);
      batch = [];
    }
  }
  if (batch.length) batches.push(batch);
  return { batches, perHost, records: options.records };
}
