import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acquisitionPlan, generateCorpus } from './generator.js';
import { Prng } from './prng.js';
import { DAY_MS, DEFAULT_START } from './world.js';

const digest = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex');

describe('seeded PRNG', () => {
  it('repeats a stream for the same seed and differs across seeds and streams', () => {
    const draw = (seed: number, stream: string): number[] => {
      const r = new Prng(seed, stream);
      return Array.from({ length: 5 }, () => r.next());
    };
    expect(draw(1, 'a')).toEqual(draw(1, 'a'));
    expect(draw(1, 'a')).not.toEqual(draw(2, 'a'));
    expect(draw(1, 'a')).not.toEqual(draw(1, 'b'));
    const r = new Prng(9);
    for (let i = 0; i < 1000; i++) {
      const v = r.int(3, 7);
      expect(v).toBeGreaterThanOrEqual(3);
      expect(v).toBeLessThanOrEqual(7);
    }
  });
});

describe('generateCorpus', () => {
  const options = { seed: 11, hosts: 40, days: 2 };
  const corpus = generateCorpus(options);

  it('is deterministic for a seed and changes with it', () => {
    const again = generateCorpus(options);
    expect(digest(again)).toBe(digest(corpus));
    expect(digest(generateCorpus({ ...options, seed: 12 }).conns)).not.toBe(digest(corpus.conns));
  });

  it('keeps every event inside the window and in time order', () => {
    const end = DEFAULT_START + options.days * DAY_MS;
    const outside: number[] = [];
    const unordered: number[] = [];
    corpus.conns.forEach((c, i) => {
      if (c.ts < DEFAULT_START || c.ts + c.durationMs >= end || !Number.isInteger(c.ts)) outside.push(i);
      if (i > 0 && c.ts < corpus.conns[i - 1]!.ts) unordered.push(i);
    });
    corpus.requests.forEach((r, i) => {
      const prev = corpus.requests[i - 1];
      if (prev && r.ts + r.elapsedMs < prev.ts + prev.elapsedMs) unordered.push(i);
    });
    expect(outside).toEqual([]);
    expect(unordered).toEqual([]);
  });

  it('labels every planned acquisition host and keeps benign hosts apart', () => {
    const plan = acquisitionPlan(options.hosts);
    const expectedHosts =
      plan.btSwarmSizes.reduce((a, b) => a + b, 0) + plan.soloBt + plan.massDownloaders + plan.scrapers + plan.slowCrawlers + plan.bulkSwarmSize;
    const { truth } = corpus;
    expect(new Set(truth.labels.map((l) => l.host)).size).toBe(expectedHosts);
    expect(truth.hosts).toHaveLength(options.hosts);
    for (const l of truth.labels) {
      expect(truth.benign_hosts).not.toContain(l.host);
      expect(Date.parse(l.start)).toBeLessThanOrEqual(Date.parse(l.end));
      // The labelled host really produced traffic of that technique inside its label.
      const activity = l.technique === 'bt_client' ? 'bittorrent' : l.technique;
      const inside = corpus.conns.filter((c) => c.host === l.host && c.activity === activity && c.ts >= Date.parse(l.start) && c.ts <= Date.parse(l.end));
      expect(inside.length).toBeGreaterThan(0);
    }
    expect(truth.swarms.map((s) => s.kind).sort()).toEqual([...plan.btSwarmSizes.map(() => 'bittorrent'), 'bulk_acquisition'].sort());
    for (const s of truth.swarms) {
      expect(s.hosts.length).toBeGreaterThanOrEqual(2);
      for (const h of s.hosts) expect(truth.labels.find((l) => l.host === h)?.swarm).toBe(s.id);
    }
  });

  it('gives browsing a human rhythm: working hours busy, nights and the weekend quiet', () => {
    const perHour = new Array<number>(24).fill(0);
    let weekend = 0;
    let weekday = 0;
    for (const c of corpus.conns) {
      if (c.activity !== 'browsing' || c.remotePort !== 443 || c.bytesIn < 5_000) continue;
      const d = new Date(c.ts);
      if (d.getUTCDay() === 0) weekend++;
      else {
        weekday++;
        perHour[d.getUTCHours()]!++;
      }
    }
    expect(weekday).toBeGreaterThan(5 * weekend);
    expect(perHour[10]!).toBeGreaterThan(10 * (perHour[3]! + 1));
    expect(perHour[12]! + perHour[13]!).toBeLessThan(perHour[10]! + perHour[15]!);
  });

  it('makes BitTorrent fan out to many peers and the slow crawler stay under naive volume', () => {
    for (const l of corpus.truth.labels) {
      const conns = corpus.conns.filter((c) => c.host === l.host && c.activity === (l.technique === 'bt_client' ? 'bittorrent' : l.technique));
      const remotes = new Set(conns.map((c) => c.remote));
      if (l.technique === 'bt_client') expect(remotes.size).toBeGreaterThan(100);
      if (l.technique === 'slow_crawler') {
        expect(remotes.size).toBeGreaterThan(500);
        const perDay = conns.reduce((n, c) => n + c.bytesIn + c.bytesOut, 0) / options.days;
        expect(perDay).toBeLessThan(1e9);
      }
    }
  });

  it('carries the benign look-alikes the engine must not flag', () => {
    const activities = new Set(corpus.conns.map((c) => c.activity));
    for (const a of ['video_call', 'os_update', 'backup', 'ci_pull', 'delivery_optimization', 'iperf']) expect(activities).toContain(a);
    const doExternal = corpus.conns.filter((c) => c.activity === 'delivery_optimization' && !c.remote.startsWith('10.'));
    expect(doExternal.length).toBeGreaterThan(0);
    expect(doExternal.every((c) => c.remotePort === 7680 || c.hostPort === 7680)).toBe(true);
  });
});
