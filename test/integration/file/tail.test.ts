import { appendFileSync, copyFileSync, existsSync, readdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../src/record.js';
import type { AuditEvent } from '../../../src/sinks/types.js';
import { fileSourceSchema } from '../../../src/sources/file/config.js';
import { createFileSource } from '../../../src/sources/file/index.js';
import type { Source } from '../../../src/sources/types.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createRegistry, sourceMetrics } from '../../../src/telemetry/metrics.js';
import { tempDir, waitFor } from '../../support/env.js';

// Real files in a temp dir, real timers: the tailer must count every line exactly once across
// appends, partial lines, rename rotation, copytruncate, and restarts from the checkpoint.

/** A VPC line whose `bytes` field is its sequence number, so the output names each line. */
const vpcLine = (n: number) => `2 123456789010 eni-1 10.20.${(n >> 8) & 255}.${n & 255} 198.51.100.7 40000 443 6 1 ${n} 1781168400 1781168460 ACCEPT OK\n`;
const vpcLines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => vpcLine(from + i)).join('');
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

interface Harness {
  records: FlowRecord[];
  audits: AuditEvent[];
  fatal: Error[];
  registry: ReturnType<typeof createRegistry>;
  start(options?: { startAt?: 'beginning' | 'end'; pushDelayMs?: number; format?: 'vpc' | 'zeek'; paths?: string[] }): Promise<Source>;
}

let dir: { path: string; remove: () => void };
let running: Source[] = [];

beforeEach(() => {
  dir = tempDir('egressd-tail-');
  running = [];
});
afterEach(async () => {
  for (const s of running) await s.stop();
  dir.remove();
});

function harness(logPath: string, stateDir: string): Harness {
  const h: Harness = {
    records: [],
    audits: [],
    fatal: [],
    registry: createRegistry(),
    async start(options = {}) {
      const config = fileSourceSchema.parse({
        type: 'file',
        format: options.format ?? 'vpc',
        paths: options.paths ?? [logPath],
        start_at: options.startAt ?? 'beginning',
        poll_interval: '50ms',
      });
      const source = createFileSource(config, {
        logger: silentLogger(),
        registry: h.registry,
        stateDir,
        onFatal: (err) => h.fatal.push(err),
        audit: (event) => h.audits.push(event),
        out: {
          push: async (batch) => {
            if (options.pushDelayMs) await new Promise((r) => setTimeout(r, options.pushDelayMs));
            h.records.push(...batch);
          },
        },
      });
      await source.start();
      running.push(source);
      return source;
    },
  };
  return h;
}

async function stopSource(source: Source): Promise<void> {
  await source.stop();
  running = running.filter((s) => s !== source);
}

const sequence = (records: FlowRecord[]) => records.map((r) => r.bytesOut).sort((a, b) => a - b);

describe('file source tailing', () => {
  it('follows appends, partial lines, rename rotation and copytruncate, each line once', async () => {
    const log = join(dir.path, 'flows.log');
    const h = harness(log, join(dir.path, 'state'));
    writeFileSync(log, vpcLines(0, 100));
    const source = await h.start();
    await waitFor(() => h.records.length === 100, 10_000, 'first 100 lines');

    // A line written in two steps is read once, whole.
    const partial = vpcLine(100);
    appendFileSync(log, partial.slice(0, 30));
    await new Promise((r) => setTimeout(r, 200));
    expect(h.records).toHaveLength(100);
    appendFileSync(log, partial.slice(30) + vpcLines(101, 250));
    await waitFor(() => h.records.length === 250, 10_000, 'appended lines');

    // Rename rotation: the writer still appends to the old inode before reopening.
    appendFileSync(log, vpcLines(250, 300));
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, vpcLines(300, 310) + vpcLine(310).trimEnd()); // last line without newline
    writeFileSync(log, vpcLines(311, 400));
    await waitFor(() => h.records.length === 400, 10_000, 'lines around the rotation');

    // copytruncate: the file shrinks and is refilled.
    copyFileSync(log, `${log}.2`);
    truncateSync(log, 0);
    writeFileSync(log, vpcLines(400, 450));
    await waitFor(() => h.records.length === 450, 10_000, 'lines after truncation');

    // Rewritten in place with more than was there: the start of the file changed.
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(log, vpcLines(450, 600));
    await waitFor(() => h.records.length === 600, 10_000, 'lines after rewrite');

    await stopSource(source);
    expect(sequence(h.records)).toEqual(range(0, 600));
    expect(h.fatal).toEqual([]);
    const rotations = (await h.registry.getSingleMetric('egressd_file_source_rotations_total')!.get()).values;
    const byKind = Object.fromEntries(rotations.map((v) => [v.labels.kind, v.value]));
    expect(byKind.rename).toBe(1);
    expect(byKind.truncate).toBeGreaterThanOrEqual(2);
    const checkpoints = h.audits.filter((a) => a.action === 'checkpoint');
    expect(checkpoints.length).toBeGreaterThan(0);
    expect(checkpoints.at(-1)).toMatchObject({ path: log, offset: Buffer.byteLength(vpcLines(450, 600)) });
    expect(readdirSync(join(dir.path, 'state', 'checkpoints')).filter((f) => f.endsWith('.json'))).toHaveLength(1);
  });

  it('restarts from the checkpoint without skipping or repeating lines, also across a rotation while stopped', async () => {
    const log = join(dir.path, 'flows.log');
    const state = join(dir.path, 'state');
    const h = harness(log, state);
    writeFileSync(log, vpcLines(0, 30_000));

    // Slow consumer: stop while the file is being read.
    const first = await h.start({ pushDelayMs: 15 });
    await waitFor(() => h.records.length > 2000, 20_000, 'some records');
    await stopSource(first);
    const afterStop = h.records.length;
    expect(afterStop).toBeLessThan(30_000);
    expect(existsSync(join(state, 'checkpoints'))).toBe(true);

    appendFileSync(log, vpcLines(30_000, 30_100));
    const second = await h.start();
    await waitFor(() => h.records.length === 30_100, 20_000, 'the rest after restart');
    await stopSource(second);
    expect(sequence(h.records)).toEqual(range(0, 30_100));

    // Rotated while stopped: the old file (found by inode) is finished, then the new one read.
    appendFileSync(log, vpcLines(30_100, 30_200));
    renameSync(log, `${log}.1`);
    writeFileSync(log, vpcLines(30_200, 30_300));
    const third = await h.start();
    await waitFor(() => h.records.length === 30_300, 20_000, 'rotated and new file');
    await stopSource(third);
    expect(sequence(h.records)).toEqual(range(0, 30_300));
    expect(h.fatal).toEqual([]);
  });

  it('start_at end skips what a file held at start, a file created later is read whole', async () => {
    const log = join(dir.path, 'flows.log');
    const later = join(dir.path, 'later.log');
    const h = harness(log, join(dir.path, 'state'));
    writeFileSync(log, vpcLines(0, 50) + vpcLine(50).slice(0, 20));
    await h.start({ startAt: 'end', paths: [log, later] });
    await new Promise((r) => setTimeout(r, 200));
    appendFileSync(log, vpcLine(50).slice(20) + vpcLines(51, 60));
    writeFileSync(later, vpcLines(60, 70));
    await waitFor(() => h.records.length === 20, 10_000, 'new lines only');
    // The line that was partial at start is read whole: its start was not skipped.
    expect(sequence(h.records)).toEqual(range(50, 70));
  });

  it('Zeek: a restart mid-file still knows the #fields header', async () => {
    const log = join(dir.path, 'conn.log');
    const state = join(dir.path, 'state');
    const header = [
      '#separator \\x09',
      '#set_separator\t,',
      '#empty_field\t(empty)',
      '#unset_field\t-',
      '#path\tconn',
      '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\torig_pkts\tresp_pkts\tip_proto',
      '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tcount\tcount\tcount',
    ].join('\n');
    const conn = (n: number) => `1781168400.${String(n % 1000).padStart(6, '0')}\tC${n}\t10.20.0.7\t${1024 + (n % 60000)}\t198.51.100.20\t443\ttcp\tssl\t1.5\t${n}\t100\t1\t1\t6\n`;
    const conns = (from: number, to: number) => range(from, to).map(conn).join('');
    writeFileSync(log, header + '\n' + conns(0, 500));
    const h = harness(log, state);
    const first = await h.start({ format: 'zeek' });
    await waitFor(() => h.records.length === 500, 10_000, 'first lines');
    await stopSource(first);

    appendFileSync(log, conns(500, 600));
    const second = await h.start({ format: 'zeek' });
    await waitFor(() => h.records.length === 600, 10_000, 'lines after restart');
    await stopSource(second);
    expect(sequence(h.records)).toEqual(range(0, 600));
    expect(h.records.every((r) => r.app?.name === 'tls' && r.source.type === 'zeek')).toBe(true);
    const errors = await sourceMetrics(h.registry).errors.get();
    expect(errors.values).toEqual([]);
  });

  it('counts rejected and over-long lines by reason, labelled with the file', async () => {
    const log = join(dir.path, 'flows.log');
    const h = harness(log, join(dir.path, 'state'));
    writeFileSync(log, vpcLines(0, 10) + 'garbage\n' + 'x'.repeat(2 * 1024 * 1024) + '\n' + vpcLines(10, 20));
    const source = await h.start();
    await waitFor(() => h.records.length === 20, 10_000, 'the good lines');
    await stopSource(source);
    const errors = (await sourceMetrics(h.registry).errors.get()).values.map((v) => [v.labels.reason, v.labels.id, v.labels.source, v.value]);
    expect(errors.sort()).toEqual([
      ['field_count', log, 'vpc', 1],
      ['line_too_long', log, 'vpc', 1],
    ]);
    const bytes = (await sourceMetrics(h.registry).bytes.get()).values;
    expect(bytes).toEqual([{ labels: { source: 'vpc', id: log }, value: Buffer.byteLength(vpcLines(0, 20)) + 8 + 2 * 1024 * 1024 + 1 }]);
  });

  it('construction is inert: no files or timers until start()', async () => {
    const state = join(dir.path, 'state');
    const config = fileSourceSchema.parse({ type: 'file', format: 'vpc', paths: [join(dir.path, 'x.log')] });
    const source = createFileSource(config, {
      logger: silentLogger(),
      registry: createRegistry(),
      stateDir: state,
      onFatal: () => {},
      audit: () => {},
      out: { push: async () => {} },
    });
    expect(existsSync(state)).toBe(false);
    await source.start();
    await source.stop();
    expect(existsSync(join(state, 'checkpoints'))).toBe(true);
  });
});
