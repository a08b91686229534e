import { describe, expect, it } from 'vitest';
import type { DetectionEngine } from '../detect/types.js';
import { approvedSourcesSchema, Enricher, networksSchema } from '../enrich/index.js';
import type { IncidentChange } from '../incidents/types.js';
import type { FlowRecord } from '../record.js';
import type { Sink, SinkEntry } from '../sinks/types.js';
import { silentLogger } from '../telemetry/logger.js';
import { createRegistry } from '../telemetry/metrics.js';
import { Pipeline } from './pipeline.js';

function rec(i: number, src = '10.0.0.1', dst = '203.0.113.1'): FlowRecord {
  return {
    ts: 1_000_000 + i * 1000,
    tsEnd: 1_000_000 + i * 1000 + 500,
    src, srcPort: 1000 + i, dst, dstPort: 80, proto: 6,
    bytesOut: 1, bytesIn: 10, packetsOut: 1, packetsIn: 1,
    source: { type: 'zeek', id: 't' },
  };
}

/** Opens one incident per 10 observed records; advance reports them. */
class CountingEngine implements DetectionEngine {
  observed: FlowRecord[] = [];
  advancedTo: number[] = [];
  private pending: IncidentChange[] = [];
  async open() {}
  async save() {}
  observe(r: FlowRecord) {
    this.observed.push(r);
    if (this.observed.length % 10 === 0) {
      this.pending.push({
        change: 'opened',
        incident: {
          id: `i${this.observed.length}`, kind: 'bulk_acquisition', status: 'open', hosts: [r.host!],
          first_seen: new Date(r.ts).toISOString(), last_seen: new Date(r.tsEnd).toISOString(), score: 50, severity: 'medium',
          approved_source: null, evidence: { bytes_in: 0, bytes_out: 0, peers: 0, info_hashes: [], remotes: [], signals: [] }, rule: 't@1',
        },
      });
    }
  }
  advance(now: number) {
    this.advancedTo.push(now);
    return this.pending.splice(0);
  }
  flush() {
    return [];
  }
}

class SlowSink implements Sink {
  readonly name = 'slow';
  entries: SinkEntry[] = [];
  constructor(private readonly delayMs: number) {}
  async start() {}
  async stop() {}
  async flush() {}
  async write(entries: readonly SinkEntry[]) {
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.entries.push(...entries);
  }
}

function pipeline(engine: DetectionEngine, sink: Sink, queueBatches = 2) {
  return new Pipeline({
    enricher: new Enricher(networksSchema.parse({}), approvedSourcesSchema.parse({})),
    engine,
    sinks: [sink],
    registry: createRegistry(),
    logger: silentLogger(),
    queueBatches,
  });
}

describe('Pipeline', () => {
  it('passes only egress records to detection, in order, and writes changes to sinks', async () => {
    const engine = new CountingEngine();
    const sink = new SlowSink(1);
    const p = pipeline(engine, sink);
    const batch = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? rec(i, '10.0.0.1', '10.0.0.2') : rec(i)));
    await p.push(batch);
    await p.idle();
    expect(engine.observed).toHaveLength(20);
    expect(engine.observed.map((r) => r.srcPort)).toEqual(batch.filter((_, i) => i % 3 !== 0).map((r) => r.srcPort));
    expect(sink.entries.filter((e) => e.type === 'incident')).toHaveLength(2);
    expect(p.eventTime).toBe(batch.at(-1)!.tsEnd);
  });

  it('makes sources wait when the queue is full instead of dropping', async () => {
    const engine = new CountingEngine();
    const sink = new SlowSink(20);
    const p = pipeline(engine, sink, 2);
    const pushes: Promise<void>[] = [];
    let resolved = 0;
    for (let b = 0; b < 6; b++) {
      const batch = Array.from({ length: 10 }, (_, i) => rec(b * 10 + i));
      pushes.push(p.push(batch).then(() => void resolved++));
    }
    await new Promise((r) => setTimeout(r, 5));
    expect(resolved).toBeLessThan(6);
    await Promise.all(pushes);
    await p.idle();
    expect(engine.observed).toHaveLength(60);
    expect(sink.entries).toHaveLength(6);
  });

  it('keeps audit events and incident changes in order in the sinks', async () => {
    const engine = new CountingEngine();
    const sink = new SlowSink(1);
    const p = pipeline(engine, sink);
    p.audit({ action: 'start', at: 1 });
    await p.push(Array.from({ length: 10 }, (_, i) => rec(i)));
    p.audit({ action: 'stop', at: 2 });
    await p.idle();
    expect(sink.entries.map((e) => (e.type === 'audit' ? e.event.action : e.change.change))).toEqual(['start', 'opened', 'stop']);
  });

  it('fails pushes after a sink error instead of losing records silently', async () => {
    const engine = new CountingEngine();
    const failing: Sink = { ...new SlowSink(0), name: 'bad', start: async () => {}, stop: async () => {}, flush: async () => {}, write: async () => { throw new Error('disk full'); } };
    const p = pipeline(engine, failing);
    await p.push(Array.from({ length: 10 }, (_, i) => rec(i)));
    await expect(p.idle()).rejects.toThrow('disk full');
    await expect(p.push([rec(99)])).rejects.toThrow('disk full');
  });

  it('regression: an audit event queued while another is being written is not stranded (stop hung)', async () => {
    const engine = new CountingEngine();
    const sink = new SlowSink(10);
    const p = pipeline(engine, sink);
    p.audit({ action: 'start', at: 1 });
    p.audit({ action: 'rules_loaded', at: 1 });
    await new Promise((r) => setTimeout(r, 5));
    p.audit({ action: 'late', at: 2 });
    await p.idle();
    expect(sink.entries.map((e) => (e.type === 'audit' ? e.event.action : ''))).toEqual(['start', 'rules_loaded', 'late']);
  });
});
