import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../telemetry/logger.js';
import { detectSchema, detectionRulesSchema } from './config.js';
import { createDetectionEngine } from './index.js';
import type { FlowRecord } from '../record.js';
import type { Incident } from '../incidents/types.js';
import {
  TEST_HASH,
  bittorrentClient,
  bulkBurst,
  drive,
  flow,
  ipOf,
  officeBrowsing,
  prng,
  slowCrawler,
  videoCall,
} from './synthetic.js';

const DAY = Date.UTC(2026, 5, 11);
const MIN = 60_000;
const HOUR = 3_600_000;
const MIB = 1024 * 1024;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function engine(options: { config?: unknown; rules?: unknown; stateDir?: string; registry?: Registry } = {}) {
  return createDetectionEngine({
    config: detectSchema.parse(options.config ?? {}),
    rules: detectionRulesSchema.parse(options.rules ?? {}),
    logger: silentLogger(),
    registry: options.registry ?? new Registry(),
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  });
}

function incidentsOf(records: FlowRecord[], options: Parameters<typeof engine>[0] = {}) {
  return [...drive(engine(options), records).final.values()];
}

describe('per-host features', () => {
  it('counts long flows at their rate in the short window and in full over the long one', () => {
    const e = engine();
    e.observe(flow({ host: '10.0.0.1', remote: '1.1.1.1', ts: DAY, tsEnd: DAY + 10 * MIN, bytesIn: 100 * MIB }));
    const f = e.featuresOf('10.0.0.1')!;
    expect(f.bytes_in_1m).toBeCloseTo(10 * MIB, -3);
    expect(f.bytes_in_1h).toBe(100 * MIB);
    expect(f.bytes_in_24h).toBe(100 * MIB);
  });

  it('excludes approved traffic from unapproved volume and reports the approved share', () => {
    const e = engine();
    const approval = { name: 'mirror', owner: 'it', expired: false, matchedBy: 'domain' };
    e.observe(flow({ host: '10.0.0.1', remote: '1.1.1.1', ts: DAY, bytesIn: 300 * MIB, approval }));
    e.observe(flow({ host: '10.0.0.1', remote: '2.2.2.2', ts: DAY + 1, bytesIn: 100 * MIB }));
    const f = e.featuresOf('10.0.0.1')!;
    expect(f.bytes_in_1h).toBe(100 * MIB);
    expect(f.peers_1h).toBe(1);
    expect(f.approved_share).toBeCloseTo(0.75, 5);
  });

  it('counts distinct info hashes, each flow carrying its own copy, repeated or listed, up to the cap', () => {
    const e = engine();
    const hash = (i: number) => i.toString(16).padStart(40, '0');
    const bt = (ts: number, app: FlowRecord['app']) => flow({ host: '10.0.0.5', remote: '1.1.1.1', ts, app });
    // The same hash as fresh strings, then another, then the first again: two distinct.
    e.observe(bt(DAY, { name: 'bittorrent', via: 'handshake', infoHash: hash(1).slice(0) }));
    e.observe(bt(DAY + 1, { name: 'bittorrent', via: 'handshake', infoHash: `${hash(1)}` }));
    e.observe(bt(DAY + 2, { name: 'bittorrent', via: 'dht', infoHash: hash(2), infoHashes: [hash(3), hash(3)] }));
    e.observe(bt(DAY + 3, { name: 'bittorrent', via: 'handshake', infoHash: hash(1) }));
    // A list stands for the flow's hashes: its single hash beside it is not counted again.
    expect(e.featuresOf('10.0.0.5')!.info_hashes).toBe(2);
    for (let i = 10; i < 200; i++) e.observe(bt(DAY + i, { name: 'bittorrent', via: 'dht', infoHashes: [hash(i), hash(1)] }));
    expect(e.featuresOf('10.0.0.5')!.info_hashes).toBe(64);
  });

  it('does not count the upload half of a uni-flow pair as a download', () => {
    const e = engine();
    for (let i = 0; i < 40; i++) {
      const ts = DAY + i * 1_000;
      e.observe(flow({ host: '10.0.0.1', remote: '1.1.1.1', ts, bytesIn: 50_000, bytesOut: 0 }));
      e.observe(flow({ host: '10.0.0.1', remote: '1.1.1.1', ts: ts + 3, bytesIn: 0, bytesOut: 600 }));
    }
    const f = e.featuresOf('10.0.0.1')!;
    expect(f.downloads_1h).toBe(40);
    // Strictly periodic downloads: regular, although records alternate direction.
    expect(f.regularity_1h).toBeGreaterThan(0.9);
    expect(f.peers_1h).toBe(1);
  });

  it('measures duty cycle, active minutes, fan-out and heavy peers', () => {
    const e = engine();
    for (let h = 0; h < 22; h++) for (let i = 0; i < 40; i++) e.observe(flow({ host: '10.0.0.9', remote: ipOf(h * 100 + i), ts: DAY + h * HOUR + i * MIN, bytesIn: 2 * MIB }));
    e.advance(DAY + 21 * HOUR + 40 * MIN);
    const f = e.featuresOf('10.0.0.9')!;
    expect(f.duty_24h).toBe(22);
    expect(f.active_minutes_1h).toBe(40);
    expect(f.peers_1h).toBe(40);
    expect(f.heavy_peers_1h).toBe(40);
    expect(f.peers_24h).toBeGreaterThan(800);
  });

  it('sees proxy object patterns: distinct objects, large media, sequences, users', () => {
    const e = engine();
    for (let i = 0; i < 120; i++) {
      const key = `http://media.example.net/set/img-${String(i).padStart(4, '0')}.jpg`;
      e.observe(flow({ host: '10.0.0.2', remote: '5.5.5.5', name: 'media.example.net', ts: DAY + i * 100, bytesIn: 2 * MIB, user: 'alice', url: key, object: { kind: 'media', key, sequence: { stem: 'media.example.net/set/img-#.jpg', n: i } } }));
    }
    const f = e.featuresOf('10.0.0.2')!;
    expect(f.objects_1m).toBe(120);
    expect(f.large_objects_1h).toBe(120);
    expect(f.sequential_1h).toBe(119);
  });

  it('separates peer-to-peer flows from Delivery Optimization on 7680', () => {
    const e = engine();
    const rand = prng(3);
    for (let i = 0; i < 200; i++) {
      const peer = Math.floor(rand() * 10_000);
      e.observe(flow({ host: '10.0.0.3', remote: ipOf(peer, 88), remotePort: 20_000 + (peer % 30_000), proto: 17, ts: DAY + i * 500, bytesIn: 100_000 }));
      e.observe(flow({ host: '10.0.0.4', remote: ipOf(peer, 88), remotePort: 7680, ts: DAY + i * 500, bytesIn: 500_000 }));
    }
    const bt = e.featuresOf('10.0.0.3')!;
    const wdo = e.featuresOf('10.0.0.4')!;
    expect(bt.p2p_peers_1h).toBeGreaterThan(150);
    expect(bt.p2p_ports_1h).toBeGreaterThan(150);
    expect(wdo.p2p_ports_1h).toBe(0);
    expect(wdo.bt_port_peers_1h).toBeGreaterThan(150);
  });
});

describe('detection', () => {
  it('opens a bittorrent incident within one short window of the first handshake', () => {
    const records = bittorrentClient('10.1.0.5', DAY + 10 * HOUR + 5_000, 30, prng(1));
    const e = engine();
    const first = drive(e, records.filter((r) => r.ts < DAY + 10 * HOUR + MIN), { flush: false });
    expect(first.changes).toHaveLength(0);
    const opened = e.advance(DAY + 10 * HOUR + MIN);
    expect(opened).toHaveLength(1);
    const inc = opened[0]!.incident;
    expect(opened[0]!.change).toBe('opened');
    expect(inc.kind).toBe('bittorrent');
    expect(inc.rule).toBe('bt.protocol@1');
    expect(inc.hosts).toEqual(['10.1.0.5']);
    expect(inc.evidence.info_hashes).toEqual([TEST_HASH]);
    expect(inc.first_seen).toBe(new Date(DAY + 10 * HOUR + 5_000).toISOString());
    expect(inc.approved_source).toBeNull();
    // Explainable: every stored signal has value, threshold and weight, and evidence fired.
    const evidence = inc.evidence.signals.find((s) => s.name === 'bt_evidence')!;
    expect(evidence.value).toBeGreaterThanOrEqual(evidence.threshold);
    for (const s of inc.evidence.signals) expect(s.value).toBeGreaterThanOrEqual(s.threshold);
  });

  it('never alerts on weak ports alone: 6881 traffic without protocol evidence, Delivery Optimization', () => {
    const rand = prng(2);
    const records: FlowRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const peer = Math.floor(rand() * 40);
      records.push(flow({ host: '10.1.0.6', remote: ipOf(peer, 90), remotePort: 6881, ts: DAY + i * 10_000 + Math.floor(rand() * 9_000), bytesIn: 200_000 }));
      records.push(flow({ host: '10.1.0.7', remote: ipOf(peer, 91), remotePort: 7680, ts: DAY + i * 10_000, bytesIn: 3 * MIB }));
      records.push(flow({ host: '10.1.0.7', remote: ipOf(peer, 92), remotePort: 40_000 + i, hostPort: 7680, ts: DAY + i * 10_000, bytesIn: MIB }));
    }
    expect(incidentsOf(records)).toEqual([]);
  });

  it('raises bittorrent from flows alone when peers and their ports fan out', () => {
    const records = bittorrentClient('10.1.0.8', DAY, 20, prng(4)).map((r) => {
      delete r.app;
      return r;
    });
    const found = incidentsOf(records);
    expect(found).toHaveLength(1);
    expect(found[0]!.kind).toBe('bittorrent');
    expect(found[0]!.rule).toBe('bt.p2p-flows@1');
  });

  it('raises bulk_acquisition for a burst from many unapproved servers within the first minute', () => {
    const records = bulkBurst('10.2.0.1', DAY + 3 * HOUR, 20, prng(5));
    const e = engine();
    drive(e, records.filter((r) => r.ts < DAY + 3 * HOUR + MIN), { flush: false });
    const opened = e.advance(DAY + 3 * HOUR + MIN);
    expect(opened.map((c) => [c.change, c.incident.kind])).toEqual([['opened', 'bulk_acquisition']]);
    expect(opened[0]!.incident.evidence.remotes.length).toBeGreaterThan(0);
  });

  it('raises bulk_acquisition for a slow crawler under the volume thresholds', () => {
    const records = slowCrawler('10.2.0.2', DAY, 26, prng(6));
    const found = incidentsOf(records);
    expect(found).toHaveLength(1);
    const inc = found[0]!;
    expect(inc.kind).toBe('bulk_acquisition');
    expect(inc.evidence.users).toEqual(['svc-crawler']);
    const names = inc.evidence.signals.map((s) => s.name);
    expect(names).toContain('regularity_1h');
    expect(names.some((n) => n.startsWith('objects_'))).toBe(true);
    expect(inc.evidence.signals.find((s) => s.name === 'bytes_in_1h')).toBeUndefined();
  });

  it('stays quiet for office browsing, video calls, approved backups, updates and CI pulls', () => {
    const rand = prng(7);
    const records: FlowRecord[] = [];
    const mirror = { name: 'os-mirror', owner: 'it', expired: false, matchedBy: 'domain' };
    const bucket = { name: 'backup-bucket', owner: 'it', expired: false, matchedBy: 'cidr' };
    const registry = { name: 'ci-registry', owner: 'platform', expired: false, matchedBy: 'domain' };
    for (let d = 0; d < 3; d++) {
      const day = DAY + d * 24 * HOUR;
      for (let h = 0; h < 40; h++) records.push(...officeBrowsing(`10.3.0.${h}`, day, rand, h % 2 ? `user${h}` : undefined));
      records.push(...videoCall('10.3.0.1', day + 10 * HOUR, 90));
      records.push(...videoCall('10.3.0.2', day + 14 * HOUR, 60));
      for (let i = 0; i < 200; i++) records.push(flow({ host: '10.3.1.1', remote: '52.1.1.1', ts: day + 2 * HOUR + i * 5_000, bytesOut: 500 * MIB, bytesIn: 10_000, approval: bucket }));
      for (let i = 0; i < 300; i++) records.push(flow({ host: `10.3.2.${i % 50}`, remote: ipOf(i % 7, 140), name: 'deb.mirror.example', ts: day + 4 * HOUR + i * 1_000, bytesIn: 200 * MIB, approval: mirror }));
      for (let i = 0; i < 500; i++) records.push(flow({ host: '10.3.3.1', remote: ipOf(i, 141), name: 'registry.example', ts: day + i * 60_000, bytesIn: 400 * MIB, approval: registry }));
    }
    expect(incidentsOf(records)).toEqual([]);
  });

  it('names an expired approval and no longer applies it', () => {
    const expired = { name: 'old-dataset', owner: 'research', expired: true, matchedBy: 'domain' };
    const records = bulkBurst('10.2.0.3', DAY, 10, prng(8)).map((r) => ({ ...r, approval: expired }));
    const found = incidentsOf(records);
    expect(found).toHaveLength(1);
    expect(found[0]!.approved_source).toBeNull();
    expect(found[0]!.evidence.approval_expired).toBe('old-dataset');
    expect(found[0]!.evidence.signals.map((s) => s.name)).toContain('approval_expired');
    const approved = records.map((r) => ({ ...r, approval: { ...expired, expired: false } }));
    expect(incidentsOf(approved)).toEqual([]);
  });

  it('suppresses BitTorrent approved by info hash, or downgrades it when the rules say so', () => {
    const approval = { name: 'linux-isos', owner: 'it', expired: false, matchedBy: 'info_hash' };
    const records = bittorrentClient('10.1.0.9', DAY, 10, prng(9)).map((r) => (r.app ? { ...r, approval } : r));
    expect(incidentsOf(records)).toEqual([]);
    const downgraded = incidentsOf(records, { rules: { approvals: { bittorrent: 'downgrade' } } });
    expect(downgraded).toHaveLength(1);
    expect(downgraded[0]!.severity).toBe('low');
    expect(downgraded[0]!.approved_source).toBe('linux-isos');
  });
});

describe('incident lifecycle', () => {
  it('keeps one sustained activity as one incident: open, updates with growing evidence, resolve after quiet', () => {
    const records = bittorrentClient('10.1.1.1', DAY, 3 * 60, prng(10));
    // Activity after the quiet period is a new incident.
    records.push(...bittorrentClient('10.1.1.1', DAY + 9 * HOUR, 5, prng(11)));
    const { changes } = drive(engine(), records);
    const ids = [...new Set(changes.map((c) => c.incident.id))];
    expect(ids).toHaveLength(2);
    const firstChanges = changes.filter((c) => c.incident.id === ids[0]);
    expect(firstChanges[0]!.change).toBe('opened');
    expect(firstChanges.at(-1)!.change).toBe('resolved');
    expect(firstChanges.filter((c) => c.change === 'updated').length).toBeGreaterThan(0);
    const versions = firstChanges.map((c) => c.incident.version);
    expect(versions).toEqual([...versions].sort((a, b) => a! - b!));
    expect(new Set(versions).size).toBe(versions.length);
    const bytes = firstChanges.map((c) => c.incident.evidence.bytes_in);
    for (let i = 1; i < bytes.length; i++) expect(bytes[i]!).toBeGreaterThanOrEqual(bytes[i - 1]!);
    // Resolved after the quiet period of event time, not at the end of input.
    const resolved = firstChanges.at(-1)!.incident;
    expect(Date.parse(resolved.last_seen)).toBeLessThan(DAY + 3 * HOUR);
    expect(changes.filter((c) => c.change === 'updated').length).toBeLessThan(20);
  });
});

describe('regressions', () => {
  it('raises no bulk incident from a flow-only BitTorrent host whose long window still remembers the torrent', () => {
    const records = bittorrentClient('10.8.0.1', DAY, 17 * 60, prng(30)).map((r) => {
      delete r.app;
      return r;
    });
    // Ordinary browsing after the BitTorrent incident resolved, within the same long window.
    for (let i = 0; i < 50; i++) records.push(flow({ host: '10.8.0.1', remote: ipOf(i, 151), ts: DAY + 22 * HOUR + i * 20_000, bytesIn: 300_000 }));
    const found = incidentsOf(records);
    expect(found.map((i) => i.kind)).toEqual(['bittorrent']);
  });

  it('opens no second bulk incident while the host only browses after a finished download', () => {
    const records = bulkBurst('10.8.0.2', DAY, 60, prng(31));
    // Sixteen hours later: a little browsing, still inside the long window of the burst.
    records.push(...officeBrowsing('10.8.0.2', DAY - 8 * HOUR, prng(32)));
    const found = incidentsOf(records);
    expect(found.map((i) => i.kind)).toEqual(['bulk_acquisition']);
  });
});

describe('swarm correlation', () => {
  it('lists every host sharing an info hash in one swarm incident', () => {
    const records = [
      ...bittorrentClient('10.4.0.1', DAY, 5, prng(12)),
      ...bittorrentClient('10.4.0.2', DAY + 2 * HOUR, 5, prng(13)),
      ...bittorrentClient('10.4.0.3', DAY + 20 * HOUR, 5, prng(14)),
      ...bittorrentClient('10.4.0.4', DAY + 2 * HOUR, 5, prng(15), 'ab'.repeat(20)),
    ];
    const found = incidentsOf(records);
    const swarms = found.filter((i) => i.kind === 'swarm');
    expect(swarms).toHaveLength(1);
    expect(swarms[0]!.hosts).toEqual(['10.4.0.1', '10.4.0.2', '10.4.0.3']);
    expect(swarms[0]!.evidence.info_hashes).toEqual([TEST_HASH]);
    expect(swarms[0]!.rule).toBe('swarm.correlation@2');
    expect(found.filter((i) => i.kind === 'bittorrent')).toHaveLength(4);
  });

  it('correlates hosts pulling from the same unapproved source, not everyone on a popular site', () => {
    const rand = prng(16);
    const records: FlowRecord[] = [];
    for (const host of ['10.5.0.1', '10.5.0.2', '10.5.0.3']) {
      for (let m = 0; m < 30; m++)
        for (let i = 0; i < 200; i++)
          records.push(flow({ host, remote: ipOf(i % 150, 45), name: `n${i % 150}.dump.example.org`, ts: DAY + m * MIN + i * 250 + Math.floor(rand() * 100), bytesIn: 3 * MIB }));
    }
    // Streaming users: lots from one site, but no acquisition pattern.
    for (const host of ['10.5.1.1', '10.5.1.2']) records.push(...videoCall(host, DAY, 60).map((r) => ({ ...r, remote: { ip: '9.9.9.9', port: 443, name: 'video.example.com' } })));
    const found = incidentsOf(records);
    const swarms = found.filter((i) => i.kind === 'swarm');
    expect(swarms).toHaveLength(1);
    expect(swarms[0]!.hosts).toEqual(['10.5.0.1', '10.5.0.2', '10.5.0.3']);
    expect(swarms[0]!.evidence.remotes).toEqual(['example.org']);
  });
});

describe('state', () => {
  it('snapshots atomically and restores without re-alerting; ids are stable across the restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'egressd-detect-'));
    dirs.push(dir);
    const records = [...bittorrentClient('10.6.0.1', DAY, 90, prng(17)), ...bulkBurst('10.6.0.2', DAY + 30 * MIN, 40, prng(18))].sort((a, b) => a.ts - b.ts);
    const cut = DAY + 45 * MIN;
    const whole = drive(engine(), records.map((r) => ({ ...r })));

    const a = engine({ stateDir: dir });
    await a.open();
    const before = drive(a, records.filter((r) => r.ts < cut).map((r) => ({ ...r })), { flush: false });
    await a.save();
    expect(existsSync(join(dir, 'detect', 'snapshot.json'))).toBe(true);
    expect(existsSync(join(dir, 'detect', 'snapshot.json.tmp'))).toBe(false);
    const lines = readFileSync(join(dir, 'detect', 'snapshot.json'), 'utf8').trimEnd().split('\n');
    // A header, then one line per host.
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();

    const b = engine({ stateDir: dir });
    await b.open();
    expect(b.trackedHosts).toBe(2);
    const after = drive(b, records.filter((r) => r.ts >= cut).map((r) => ({ ...r })));
    expect(after.changes.filter((c) => c.change === 'opened')).toEqual([]);
    const openedBefore = before.changes.filter((c) => c.change === 'opened').map((c) => c.incident.id).sort();
    expect(openedBefore).toHaveLength(2);
    expect(openedBefore).toEqual(whole.changes.filter((c) => c.change === 'opened').map((c) => c.incident.id).sort());
    // The restored run ends in the same incidents as the uninterrupted one.
    const finalOf = (r: typeof whole) => [...r.final.values()].map((i) => [i.id, i.kind, i.status, i.hosts]).sort();
    const restored = new Map([...before.final, ...after.final]);
    expect(finalOf({ changes: [], final: restored })).toEqual(finalOf(whole));
  });

  it('restores what it can read: a damaged host line is skipped, another format version or garbage starts empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'egressd-detect-'));
    dirs.push(dir);
    const path = join(dir, 'detect', 'snapshot.json');
    const a = engine({ stateDir: dir });
    await a.open();
    drive(a, ['10.8.0.1', '10.8.0.2', '10.8.0.3'].flatMap((host) => officeBrowsing(host, DAY, prng(20))), { flush: false });
    await a.save();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    writeFileSync(path, [lines[0], lines[1], '{"host": "10.8.0.2", "ring": {"$f32": ', lines[3]].join('\n') + '\n');
    const b = engine({ stateDir: dir });
    await b.open();
    expect(b.trackedHosts).toBe(2);

    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...header, version: 2, hosts: [] }) + '\n');
    const c = engine({ stateDir: dir });
    await c.open();
    expect(c.trackedHosts).toBe(0);
    writeFileSync(path, 'not json\n');
    const d = engine({ stateDir: dir });
    await d.open();
    expect(d.trackedHosts).toBe(0);
  });

  it('keeps shared-source tallies across a restart: the swarm ends as in an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'egressd-detect-'));
    dirs.push(dir);
    const rand = prng(19);
    const records: FlowRecord[] = [];
    for (const host of ['10.7.0.1', '10.7.0.2', '10.7.0.3'])
      for (let m = 0; m < 40; m++)
        for (let i = 0; i < 50; i++)
          records.push(flow({ host, remote: ipOf(i % 40, 46), ts: DAY + m * MIN + i * 1000 + Math.floor(rand() * 100), bytesIn: 2 * MIB }));
    records.sort((a, b) => a.ts - b.ts);
    const cut = DAY + 25 * MIN;
    const whole = drive(engine(), records.map((r) => ({ ...r })));
    const a = engine({ stateDir: dir });
    await a.open();
    const before = drive(a, records.filter((r) => r.ts < cut).map((r) => ({ ...r })), { flush: false });
    await a.save();
    const b = engine({ stateDir: dir });
    await b.open();
    const after = drive(b, records.filter((r) => r.ts >= cut).map((r) => ({ ...r })));
    const swarmOf = (final: Map<string, Incident>) => [...final.values()].filter((i) => i.kind === 'swarm');
    const expected = swarmOf(whole.final);
    expect(expected).toHaveLength(1);
    const restored = swarmOf(new Map([...before.final, ...after.final]));
    expect(restored.map((i) => [i.id, i.hosts, i.evidence.bytes_in])).toEqual(expected.map((i) => [i.id, i.hosts, i.evidence.bytes_in]));
  });

  it('bounds state: capacity eviction under 100k hosts, idle expiry, gauges', async () => {
    const registry = new Registry();
    const e = engine({ config: { max_hosts: 20_000, host_idle_ttl: '2h' }, registry });
    for (let i = 0; i < 100_000; i++) e.observe(flow({ host: ipOf(i, 10), remote: ipOf(i % 5000, 99), ts: DAY + i * 10 }));
    e.advance(DAY + 100_000 * 10);
    expect(e.trackedHosts).toBe(20_000);
    const metrics = await registry.getMetricsAsJSON();
    const tracked = metrics.find((m) => m.name === 'egressd_detect_tracked_hosts')!;
    expect(tracked.values[0]!.value).toBe(20_000);
    expect(e.estimateStateBytes()).toBeGreaterThan(20_000 * 500);
    // Three hours later one host is still active: every other host expires.
    e.observe(flow({ host: '10.9.9.9', remote: '1.1.1.1', ts: DAY + 3 * HOUR }));
    e.advance(DAY + 3 * HOUR + 1);
    e.observe(flow({ host: '10.9.9.9', remote: '1.1.1.1', ts: DAY + 4 * HOUR + 1 }));
    e.advance(DAY + 4 * HOUR + 2);
    expect(e.trackedHosts).toBe(1);
  }, 120_000);

  it('is deterministic: the same input twice gives identical output', () => {
    const build = () => [
      ...bittorrentClient('10.7.0.1', DAY, 30, prng(19)),
      ...bittorrentClient('10.7.0.2', DAY, 30, prng(20)),
      ...bulkBurst('10.7.0.3', DAY + HOUR, 15, prng(21)),
      ...officeBrowsing('10.7.0.4', DAY, prng(22)),
    ];
    const one = drive(engine(), build());
    const two = drive(engine(), build());
    expect(one.changes.length).toBeGreaterThan(3);
    expect(JSON.stringify(two.changes)).toBe(JSON.stringify(one.changes));
  });
});
