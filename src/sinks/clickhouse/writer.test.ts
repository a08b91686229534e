import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/env.js';
import { silentLogger } from '../../telemetry/logger.js';
import { clickhouseMetrics } from './metrics.js';
import { DeadLetter, Spool } from './spool.js';
import { BatchWriter, type Inserter, type WriterOptions } from './writer.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

/** An inserter that records batches and can be made to fail or to hold requests. */
class FakeInserter implements Inserter {
  batches: { table: string; rows: string[] }[] = [];
  failWith: (() => Error) | undefined;
  hold = false;
  inFlight = new Map<string, number>();
  maxInFlight = 0;
  private held: (() => void)[] = [];

  async insert(table: string, body: string): Promise<void> {
    const n = (this.inFlight.get(table) ?? 0) + 1;
    this.inFlight.set(table, n);
    this.maxInFlight = Math.max(this.maxInFlight, n);
    try {
      if (this.hold) await new Promise<void>((r) => this.held.push(r));
      else await new Promise((r) => setTimeout(r, 1));
      if (this.failWith) throw this.failWith();
      this.batches.push({ table, rows: body.trim().split('\n') });
    } finally {
      this.inFlight.set(table, (this.inFlight.get(table) ?? 1) - 1);
    }
  }

  release(): void {
    this.hold = false;
    for (const r of this.held.splice(0)) r();
  }

  rows(table: string): string[] {
    return this.batches.filter((b) => b.table === table).flatMap((b) => b.rows);
  }
}

const dirs: { remove: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

async function setup(options: Partial<WriterOptions> = {}) {
  const dir = tempDir();
  dirs.push(dir);
  const inserter = new FakeInserter();
  const registry = new Registry();
  const metrics = clickhouseMetrics(registry);
  const spool = new Spool(join(dir.path, 'spool'), 1e9, { corrupt: () => undefined, dropped: () => undefined, size: () => undefined });
  await spool.open();
  const writer = new BatchWriter(
    { maxRows: 3, maxBytes: 1e6, maxAgeMs: 30, maxPending: 2, retryMinMs: 20, retryMaxMs: 40, ...options },
    { inserter, spool, deadLetter: new DeadLetter(join(dir.path, 'dead')), metrics, logger: silentLogger() },
  );
  return { dir: dir.path, inserter, spool, writer, registry };
}

const row = (n: number) => ({ n });

describe('BatchWriter batching', () => {
  it('cuts a batch at max_rows and the rest after max_age', async () => {
    const { inserter, writer } = await setup();
    const started = Date.now();
    await writer.add('t', [1, 2, 3, 4, 5, 6, 7].map(row));
    expect(inserter.batches.map((b) => b.rows.length)).toEqual([3, 3, 1]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(inserter.rows('t')).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => JSON.stringify(row(n))));
    await writer.stop();
  });

  it('cuts a batch at max_bytes', async () => {
    const { inserter, writer } = await setup({ maxRows: 1000, maxBytes: 20 });
    await writer.add('t', [10, 11, 12, 13].map(row));
    // each row is 9 bytes with its newline: a batch is cut once it reaches 20 bytes
    expect(inserter.batches.map((b) => b.rows.length)).toEqual([3, 1]);
    await writer.stop();
  });

  it('keeps one insert in flight per table', async () => {
    const { inserter, writer } = await setup({ maxRows: 1, maxPending: 100 });
    inserter.hold = true;
    const a = writer.add('a', [1, 2, 3, 4].map(row));
    const b = writer.add('b', [1, 2].map(row));
    await new Promise((r) => setTimeout(r, 20));
    expect(inserter.inFlight.get('a')).toBe(1);
    expect(inserter.inFlight.get('b')).toBe(1);
    const waitAll = Promise.all([a, b]);
    const pump = setInterval(() => inserter.release(), 2);
    await waitAll;
    clearInterval(pump);
    expect(inserter.maxInFlight).toBe(1);
    expect(inserter.rows('a')).toHaveLength(4);
    await writer.stop();
  });

  it('puts the batch token into the token column of every row of a batch', async () => {
    let n = 0;
    const { inserter, writer } = await setup({ tokenColumn: { f: 'batch_token' } });
    (writer as unknown as { newToken: () => string }).newToken = () => `tok${++n}`;
    await writer.add('f', [1, 2, 3, 4].map(row));
    expect(inserter.rows('f').map((l) => (JSON.parse(l) as { batch_token: string }).batch_token)).toEqual(['tok1', 'tok1', 'tok1', 'tok2']);
    await writer.stop();
  });
});

describe('BatchWriter outage handling', () => {
  it('spools on a retriable error, resolves the write, then replays in order once the server answers', async () => {
    const { inserter, writer, spool } = await setup();
    inserter.failWith = refused;
    await writer.add('t', [1, 2, 3, 4, 5].map(row));
    expect(inserter.batches).toHaveLength(0);
    expect(spool.batches).toBe(2);
    expect(writer.inOutage).toBe(true);
    await writer.add('t', [6].map(row));
    expect(spool.batches).toBe(3);
    inserter.failWith = undefined;
    await waitUntil(() => spool.batches === 0 && !writer.inOutage);
    expect(inserter.rows('t')).toEqual([1, 2, 3, 4, 5, 6].map((n) => JSON.stringify(row(n))));
    // back to direct inserts
    await writer.add('t', [7].map(row));
    expect(spool.batches).toBe(0);
    expect(inserter.rows('t')).toHaveLength(7);
    await writer.stop();
  });

  it('sends batches past max_pending to the spool instead of holding them in memory', async () => {
    const { inserter, writer, spool } = await setup({ maxRows: 1, maxPending: 2 });
    inserter.hold = true;
    const done = writer.add('t', [1, 2, 3, 4, 5, 6].map(row));
    await waitUntil(() => spool.batches >= 1);
    expect(writer.pendingRows).toBeLessThanOrEqual(2);
    const pump = setInterval(() => inserter.release(), 2);
    await done;
    await waitUntil(() => spool.batches === 0);
    clearInterval(pump);
    expect(inserter.rows('t').sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => JSON.stringify(row(n))));
    await writer.stop();
  });

  it('writes a batch with a permanent error to the dead-letter file once and counts it', async () => {
    const { inserter, writer, dir, registry, spool } = await setup();
    inserter.failWith = () => new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input');
    await writer.add('t', [1, 2].map(row));
    inserter.failWith = undefined;
    await writer.add('t', [3].map(row));
    const lines = readFileSync(join(dir, 'dead', 't.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { row: unknown; error: string });
    expect(lines.map((l) => l.row)).toEqual([row(1), row(2)]);
    expect(lines[0]!.error).toContain('Code: 27');
    expect(inserter.rows('t')).toEqual([JSON.stringify(row(3))]);
    expect(spool.batches).toBe(0);
    const metric = await registry.getSingleMetric('egressd_clickhouse_rows_total')!.get();
    expect(metric.values.find((v) => v.labels.result === 'dead_letter')?.value).toBe(2);
    await writer.stop();
  });

  it('replays consecutive spooled batches of a table as one insert, isolating a bad batch', async () => {
    const { inserter, writer, spool, dir } = await setup({ maxRows: 10 });
    inserter.failWith = refused;
    await writer.add('t', [row(1), row(2)]);
    await writer.add('t', [{ bad: true }]);
    await writer.add('t', [row(3), row(4)]);
    expect(spool.batches).toBe(3);
    const sent: number[] = [];
    inserter.failWith = undefined;
    const original = inserter.insert.bind(inserter);
    inserter.insert = async (table, body) => {
      sent.push(body.trim().split('\n').length);
      if (body.includes('bad')) throw new Error('Code: 26, e.displayText() = DB::Exception: Cannot parse');
      return original(table, body);
    };
    await waitUntil(() => spool.batches === 0 && !writer.inOutage);
    // one combined attempt of all 5 rows, then each batch alone
    expect(sent).toEqual([5, 2, 1, 2]);
    expect(inserter.rows('t')).toEqual([1, 2, 3, 4].map((n) => JSON.stringify(row(n))));
    expect(readFileSync(join(dir, 'dead', 't.ndjson'), 'utf8')).toContain('"row":{"bad":true}');
    await writer.stop();
  });

  it('flush cuts every buffer and waits for it', async () => {
    const { inserter, writer } = await setup({ maxAgeMs: 60_000 });
    void writer.add('t', [row(1)]);
    void writer.add('u', [row(2)]);
    await writer.flush();
    expect(inserter.batches.map((b) => b.table).sort()).toEqual(['t', 'u']);
    await writer.stop();
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
