import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CommonDeps } from '../../daemon/component.js';
import type { Incident } from '../../incidents/types.js';
import { silentLogger } from '../../telemetry/logger.js';
import { tempDir } from '../../../test/support/env.js';
import type { SinkEntry } from '../types.js';
import { journalSchema } from './config.js';
import { GENESIS_HASH, createJournalSink, readJournal, verifyJournal, type JournalEntry } from './index.js';

const dirs: { remove: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function stateDir(): string {
  const d = tempDir('egressd-journal-');
  dirs.push(d);
  return d.path;
}

function deps(dir: string, registry = new Registry()): CommonDeps & { onFatal: ReturnType<typeof vi.fn> } {
  return { logger: silentLogger(), registry, stateDir: dir, onFatal: vi.fn(), audit: () => undefined };
}

function incident(n: number): Incident {
  return {
    id: `inc-${n}`,
    kind: 'bittorrent',
    status: 'open',
    hosts: ['10.20.0.7'],
    first_seen: '2026-06-11T09:00:00.000Z',
    last_seen: '2026-06-11T09:05:00.000Z',
    score: 87,
    severity: 'high',
    approved_source: null,
    evidence: {
      bytes_in: 1000 * n,
      bytes_out: 10,
      peers: 312,
      info_hashes: ['0123456789abcdef0123456789abcdef01234567'],
      remotes: ['198.51.100.7'],
      signals: [{ name: 'fanout', value: 312, threshold: 50, weight: 0.3 }],
    },
    rule: 'bt.peer-wire@1',
  };
}

const audit = (n: number): SinkEntry => ({ type: 'audit', event: { action: 'checkpoint', at: 1_750_000_000_000 + n, n } });
const opened = (n: number): SinkEntry => ({ type: 'incident', change: { change: 'opened', incident: incident(n) } });

async function writeEntries(dir: string, count: number, config = {}, first = 1): Promise<void> {
  const sink = createJournalSink(journalSchema.parse(config), deps(dir));
  await sink.start();
  for (let i = first; i < first + count; i += 2) {
    await sink.write(i + 1 < first + count ? [opened(i), audit(i + 1)] : [opened(i)]);
  }
  await sink.stop();
}

function journalFiles(dir: string): string[] {
  return readdirSync(join(dir, 'journal')).sort();
}

function fileLines(dir: string, name: string): string[] {
  return readFileSync(join(dir, 'journal', name), 'utf8').split('\n').slice(0, -1);
}

function rewriteLines(dir: string, name: string, lines: string[]): void {
  writeFileSync(join(dir, 'journal', name), lines.map((l) => l + '\n').join(''));
}

async function collect(dir: string): Promise<JournalEntry[]> {
  const out: JournalEntry[] = [];
  for await (const e of readJournal(dir)) out.push(e);
  return out;
}

describe('journal chain', () => {
  it('writes a chain that verifies and reads back in order, hashed as documented', async () => {
    const dir = stateDir();
    await writeEntries(dir, 20);
    const result = await verifyJournal(dir);
    expect(result).toMatchObject({ ok: true, entries: 20, files: 1 });
    const entries = await collect(dir);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(entries[0]).toMatchObject({ type: 'incident', change: 'opened', prev: GENESIS_HASH, incident: incident(1) });
    expect(entries[1]).toMatchObject({ type: 'audit', event: { action: 'checkpoint', n: 2 } });
    expect(result.head).toEqual({ seq: 20, hash: entries[19]!.hash });

    // The README's recipe, independently: strip `,"hash":"…"}` to `}`, sha256(prev + "\n" + body).
    let prev = GENESIS_HASH;
    for (const line of fileLines(dir, journalFiles(dir)[0]!)) {
      const m = /^(.*),"hash":"([0-9a-f]{64})"\}$/.exec(line)!;
      expect(m).not.toBeNull();
      const body = m[1] + '}';
      expect((JSON.parse(body) as { prev: string }).prev).toBe(prev);
      const hash = createHash('sha256').update(prev + '\n' + body).digest('hex');
      expect(hash).toBe(m[2]);
      prev = hash;
    }
  });

  it('continues the chain after a restart', async () => {
    const dir = stateDir();
    await writeEntries(dir, 5);
    await writeEntries(dir, 5, {}, 6);
    const result = await verifyJournal(dir);
    expect(result).toMatchObject({ ok: true, entries: 10 });
    expect((await collect(dir)).map((e) => (e.type === 'audit' ? e.event!.n : e.incident!.id))).toEqual([
      'inc-1', 2, 'inc-3', 4, 'inc-5', 'inc-6', 7, 'inc-8', 9, 'inc-10',
    ]);
  });

  it('reports an empty or absent journal as ok', async () => {
    expect(await verifyJournal(stateDir())).toMatchObject({ ok: true, entries: 0, files: 0 });
  });
});

describe('verify names the first broken entry', () => {
  it('flipping one byte inside a value is a hash mismatch at that line', async () => {
    const dir = stateDir();
    await writeEntries(dir, 10);
    const name = journalFiles(dir)[0]!;
    const lines = fileLines(dir, name);
    lines[6] = lines[6]!.replace('"score":87', '"score":88');
    rewriteLines(dir, name, lines);
    const result = await verifyJournal(dir);
    expect(result.ok).toBe(false);
    expect(result.broken).toMatchObject({ file: name, line: 7, seq: 7, reason: 'hash_mismatch' });
    expect(result.entries).toBe(6);
    await expect(collect(dir)).rejects.toMatchObject({ code: 'JOURNAL_BROKEN' });
  });

  it('flipping a byte of the structure is bad_json at that line', async () => {
    const dir = stateDir();
    await writeEntries(dir, 10);
    const name = journalFiles(dir)[0]!;
    const path = join(dir, 'journal', name);
    const bytes = readFileSync(path);
    const lineStart = fileLines(dir, name).slice(0, 3).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    bytes[lineStart] = bytes[lineStart]! ^ 0x01; // `{` becomes `z`
    writeFileSync(path, bytes);
    expect((await verifyJournal(dir)).broken).toMatchObject({ file: name, line: 4, seq: 4, reason: 'bad_json' });
  });

  it('flipping any single byte of any line is detected at that line', async () => {
    const dir = stateDir();
    await writeEntries(dir, 4);
    const name = journalFiles(dir)[0]!;
    const path = join(dir, 'journal', name);
    const original = readFileSync(path);
    const lineOf = (offset: number) => original.subarray(0, offset).filter((b) => b === 10).length + 1;
    // Every 7th byte, so the test stays quick while touching every field.
    for (let offset = 0; offset < original.length; offset += 7) {
      if (original[offset] === 10) continue;
      const bytes = Buffer.from(original);
      bytes[offset] = bytes[offset]! ^ 0x04;
      writeFileSync(path, bytes);
      const result = await verifyJournal(dir);
      expect(result.ok, `byte ${offset}`).toBe(false);
      expect(result.broken!.line, `byte ${offset}`).toBe(lineOf(offset));
    }
  });

  it('deleting a line is a seq gap naming the line that follows', async () => {
    const dir = stateDir();
    await writeEntries(dir, 10);
    const name = journalFiles(dir)[0]!;
    const lines = fileLines(dir, name);
    lines.splice(4, 1);
    rewriteLines(dir, name, lines);
    expect((await verifyJournal(dir)).broken).toMatchObject({ file: name, line: 5, seq: 6, reason: 'seq_gap' });
  });

  it('reordering lines is detected at the first moved line', async () => {
    const dir = stateDir();
    await writeEntries(dir, 10);
    const name = journalFiles(dir)[0]!;
    const lines = fileLines(dir, name);
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    rewriteLines(dir, name, lines);
    expect((await verifyJournal(dir)).broken).toMatchObject({ file: name, line: 3, seq: 4, reason: 'seq_gap' });
  });

  it('an entry rewritten with a fresh hash of its own breaks the link of the next one', async () => {
    const dir = stateDir();
    await writeEntries(dir, 6);
    const name = journalFiles(dir)[0]!;
    const lines = fileLines(dir, name);
    const m = /^(.*),"hash":"[0-9a-f]{64}"\}$/.exec(lines[1]!)!;
    const forged = m[1]!.replace('"n":2', '"n":99') + '}';
    const prev = (JSON.parse(forged) as { prev: string }).prev;
    const hash = createHash('sha256').update(prev + '\n' + forged).digest('hex');
    lines[1] = forged.slice(0, -1) + `,"hash":"${hash}"}`;
    rewriteLines(dir, name, lines);
    expect((await verifyJournal(dir)).broken).toMatchObject({ file: name, line: 3, seq: 3, reason: 'prev_mismatch' });
  });
});

describe('rotation', () => {
  it('rotates by size with the chain continuing across files in lexical order', async () => {
    const dir = stateDir();
    const registry = new Registry();
    const sink = createJournalSink(journalSchema.parse({ rotate_size: 4000 }), deps(dir, registry));
    await sink.start();
    for (let i = 1; i <= 40; i++) await sink.write([opened(i)]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => sink.write([audit(41 + i)])));
    await sink.stop();

    const files = journalFiles(dir);
    expect(files.length).toBeGreaterThan(4);
    expect(files[0]).toBe('journal-000001.ndjson');
    for (const f of files) expect(readFileSync(join(dir, 'journal', f)).length).toBeLessThanOrEqual(4000);
    const result = await verifyJournal(dir);
    expect(result).toMatchObject({ ok: true, entries: 60, files: files.length });
    // The first entry of each file links to the last entry of the file before it.
    for (let i = 1; i < files.length; i++) {
      const lastOfPrevious = JSON.parse(fileLines(dir, files[i - 1]!).at(-1)!) as JournalEntry;
      const firstOfThis = JSON.parse(fileLines(dir, files[i]!)[0]!) as JournalEntry;
      expect(firstOfThis.prev).toBe(lastOfPrevious.hash);
      expect(firstOfThis.seq).toBe(lastOfPrevious.seq + 1);
    }
    const metrics = await registry.getSingleMetricAsString('egressd_journal_rotations_total');
    expect(metrics).toContain(`egressd_journal_rotations_total ${files.length - 1}`);
  });

  it('detects a deleted middle file at the first line of the next file', async () => {
    const dir = stateDir();
    await writeEntries(dir, 40, { rotate_size: 3000 });
    const files = journalFiles(dir);
    expect(files.length).toBeGreaterThan(3);
    const missingFirstSeq = (JSON.parse(fileLines(dir, files[1]!)[0]!) as JournalEntry).seq;
    rmSync(join(dir, 'journal', files[1]!));
    const result = await verifyJournal(dir);
    expect(result.broken).toMatchObject({ file: files[2], line: 1, reason: 'seq_gap' });
    expect(result.broken!.detail).toContain(`expected seq ${missingFirstSeq}`);
  });

  it('refuses to append when the file before the last one is broken at its end', async () => {
    const dir = stateDir();
    await writeEntries(dir, 30, { rotate_size: 3000 });
    const files = journalFiles(dir);
    const beforeLast = files.at(-2)!;
    const lines = fileLines(dir, beforeLast);
    lines[lines.length - 1] = lines.at(-1)!.replace('"type":', '"type" :');
    rewriteLines(dir, beforeLast, lines);
    const sink = createJournalSink(journalSchema.parse({ rotate_size: 3000 }), deps(dir));
    await expect(sink.start()).rejects.toMatchObject({ code: 'JOURNAL_BROKEN' });
  });
});

describe('group commit', () => {
  it('100 concurrent writes share a few fsyncs and each resolves only once durable', async () => {
    const dir = stateDir();
    const registry = new Registry();
    const sink = createJournalSink(journalSchema.parse({}), deps(dir, registry));
    await sink.start();
    const fsyncsBefore = (await registry.getSingleMetric('egressd_journal_fsyncs_total')!.get()).values[0]?.value ?? 0;
    const resolvedDurable: boolean[] = [];
    const writes = Array.from({ length: 100 }, (_, i) => {
      const p = sink.write([audit(i)]);
      const mySeq = sink.head.seq;
      return p.then(() => resolvedDurable.push(sink.durableSeq >= mySeq));
    });
    expect(sink.durableSeq).toBe(0);
    await Promise.all(writes);
    const fsyncs = (await registry.getSingleMetric('egressd_journal_fsyncs_total')!.get()).values[0]!.value - fsyncsBefore;
    expect(resolvedDurable).toHaveLength(100);
    expect(resolvedDurable.every(Boolean)).toBe(true);
    expect(fsyncs).toBeGreaterThanOrEqual(1);
    expect(fsyncs).toBeLessThanOrEqual(3);
    const pending = (await registry.getSingleMetric('egressd_journal_pending_entries')!.get()).values[0]!.value;
    expect(pending).toBe(0);
    await sink.stop();
    expect(await verifyJournal(dir)).toMatchObject({ ok: true, entries: 100 });
  });

  it('writes arriving during an fsync share the next one', async () => {
    const dir = stateDir();
    const registry = new Registry();
    const sink = createJournalSink(journalSchema.parse({}), deps(dir, registry));
    await sink.start();
    // 20 writers, each writing 10 times in a row: 200 entries, far fewer fsyncs.
    await Promise.all(
      Array.from({ length: 20 }, async (_, w) => {
        for (let i = 0; i < 10; i++) await sink.write([audit(w * 100 + i)]);
      }),
    );
    const fsyncs = (await registry.getSingleMetric('egressd_journal_fsyncs_total')!.get()).values[0]!.value;
    expect(fsyncs).toBeLessThanOrEqual(40);
    await sink.stop();
    expect(await verifyJournal(dir)).toMatchObject({ ok: true, entries: 200 });
  });

  it('with a gathering window, a commit waits for fsync_interval or fsync_batch, and flush forces it', async () => {
    const dir = stateDir();
    const sink = createJournalSink(journalSchema.parse({ fsync_interval: '1h', fsync_batch: 5 }), deps(dir));
    await sink.start();
    let firstDone = false;
    const first = sink.write([audit(1), audit(2), audit(3), audit(4)]).then(() => (firstDone = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(firstDone).toBe(false);
    expect(sink.durableSeq).toBe(0);
    await sink.write([audit(5)]); // the fifth entry fills the batch
    await first;
    expect(sink.durableSeq).toBe(5);
    const sixth = sink.write([audit(6)]);
    await sink.flush();
    await sixth;
    expect(sink.durableSeq).toBe(6);
    await sink.stop();
  });

  it('a short interval commits on its own', async () => {
    const dir = stateDir();
    const sink = createJournalSink(journalSchema.parse({ fsync_interval: '30ms', fsync_batch: 1000 }), deps(dir));
    await sink.start();
    const started = Date.now();
    await sink.write([audit(1)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    await sink.stop();
  });
});

describe('recovery and failures', () => {
  it('cuts a torn last line at start and records it in the journal', async () => {
    const dir = stateDir();
    await writeEntries(dir, 10);
    const name = journalFiles(dir)[0]!;
    const torn = '{"seq":11,"at":"2026-06-11T09:00:00.000Z","type":"aud';
    appendFileSync(join(dir, 'journal', name), torn);

    const before = await verifyJournal(dir);
    expect(before).toMatchObject({ ok: false, entries: 10 });
    expect(before.broken).toMatchObject({ file: name, line: 11, seq: 11, reason: 'truncated_tail' });
    expect((await collect(dir)).length).toBe(10); // readers skip a torn tail

    const registry = new Registry();
    const sink = createJournalSink(journalSchema.parse({}), deps(dir, registry));
    await sink.start();
    await sink.write([audit(12)]);
    await sink.stop();

    expect(await verifyJournal(dir)).toMatchObject({ ok: true, entries: 12 });
    const entries = await collect(dir);
    expect(entries[10]).toMatchObject({
      seq: 11,
      type: 'audit',
      event: { action: 'journal_recovered', file: name, line: 11, seq: 11, dropped_bytes: Buffer.byteLength(torn) },
    });
    expect(await registry.getSingleMetricAsString('egressd_journal_recovered_bytes_total')).toContain(
      `egressd_journal_recovered_bytes_total ${Buffer.byteLength(torn)}`,
    );
  });

  it('a torn tail that is a whole entry without its newline is cut too', async () => {
    const dir = stateDir();
    await writeEntries(dir, 3);
    const name = journalFiles(dir)[0]!;
    const path = join(dir, 'journal', name);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 1));
    expect((await verifyJournal(dir)).broken).toMatchObject({ line: 3, seq: 3, reason: 'truncated_tail' });
    const sink = createJournalSink(journalSchema.parse({}), deps(dir));
    await sink.start();
    await sink.stop();
    const entries = await collect(dir);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[2]!.event).toMatchObject({ action: 'journal_recovered', seq: 3 });
  });

  it('refuses to start on a chain broken anywhere but a torn tail, leaving the file untouched', async () => {
    const dir = stateDir();
    await writeEntries(dir, 6);
    const name = journalFiles(dir)[0]!;
    const lines = fileLines(dir, name);
    lines.splice(2, 1);
    rewriteLines(dir, name, lines);
    const before = readFileSync(join(dir, 'journal', name));
    const registry = new Registry();
    const sink = createJournalSink(journalSchema.parse({}), deps(dir, registry));
    await expect(sink.start()).rejects.toMatchObject({ code: 'JOURNAL_BROKEN', message: expect.stringContaining('line 3 (seq 4): seq_gap') });
    await expect(sink.write([audit(1)])).rejects.toThrow();
    expect(readFileSync(join(dir, 'journal', name)).equals(before)).toBe(true);
    expect(await registry.getSingleMetricAsString('egressd_journal_errors_total')).toContain('reason="broken"} 1');
  });

  it('a write failure (ENOSPC) is fatal: rejects, calls onFatal, refuses later writes', async () => {
    const dir = stateDir();
    mkdirSync(join(dir, 'journal'));
    symlinkSync('/dev/full', join(dir, 'journal', 'journal-000001.ndjson'));
    const d = deps(dir);
    const sink = createJournalSink(journalSchema.parse({}), d);
    await sink.start();
    const err = await sink.write([audit(1)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JOURNAL_WRITE' });
    expect((err as Error & { cause: NodeJS.ErrnoException }).cause.code).toBe('ENOSPC');
    expect(d.onFatal).toHaveBeenCalledTimes(1);
    await expect(sink.write([audit(2)])).rejects.toMatchObject({ code: 'JOURNAL_WRITE' });
    await expect(sink.flush()).rejects.toMatchObject({ code: 'JOURNAL_WRITE' });
    await sink.stop();
  });

  it('with deferSync (replay) a write failure is fatal as well: at the flush, then for every write', async () => {
    const dir = stateDir();
    mkdirSync(join(dir, 'journal'));
    symlinkSync('/dev/full', join(dir, 'journal', 'journal-000001.ndjson'));
    const d = deps(dir);
    const sink = createJournalSink(journalSchema.parse({}), d, { deferSync: true });
    await sink.start();
    // Acknowledged once queued: the failure comes with the flush that writes it.
    await sink.write([audit(1)]);
    await expect(sink.flush()).rejects.toMatchObject({ code: 'JOURNAL_WRITE' });
    expect(d.onFatal).toHaveBeenCalledTimes(1);
    await expect(sink.write([audit(2)])).rejects.toMatchObject({ code: 'JOURNAL_WRITE' });
    await sink.stop();
  });

  it('allows one writer per journal and takes over the lock of a dead one', async () => {
    const dir = stateDir();
    const first = createJournalSink(journalSchema.parse({}), deps(dir));
    await first.start();
    const second = createJournalSink(journalSchema.parse({}), deps(dir));
    await expect(second.start()).rejects.toThrow(/in use by process/);
    await first.stop();
    // A lock left by a process that no longer exists (the crash case) is taken over.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(dir, 'journal', 'writer.lock'), `${dead}\n`);
    const third = createJournalSink(journalSchema.parse({}), deps(dir));
    await third.start();
    await third.write([audit(1)]);
    await third.stop();
    expect(readdirSync(join(dir, 'journal'))).toEqual(['journal-000001.ndjson']);
  });

  it('is inert until start and refuses writes after stop', async () => {
    const dir = stateDir();
    const sink = createJournalSink(journalSchema.parse({}), deps(dir));
    expect(readdirSync(dir)).toEqual([]);
    await expect(sink.write([audit(1)])).rejects.toMatchObject({ code: 'SHUTDOWN' });
    await sink.start();
    await sink.write([audit(1)]);
    await sink.stop();
    await expect(sink.write([audit(2)])).rejects.toMatchObject({ code: 'SHUTDOWN' });
  });

  it('rejects an entry that cannot be serialised without touching the chain', async () => {
    const dir = stateDir();
    const sink = createJournalSink(journalSchema.parse({}), deps(dir));
    await sink.start();
    const bad: SinkEntry = { type: 'audit', event: { action: 'x', at: 1, big: 10n } };
    await expect(sink.write([audit(1), bad])).rejects.toMatchObject({ code: 'USAGE' });
    await sink.write([audit(2)]);
    await sink.stop();
    expect(await verifyJournal(dir)).toMatchObject({ ok: true, entries: 1 });
  });
});

describe('config', () => {
  it('parses {} into defaults', () => {
    expect(journalSchema.parse({})).toEqual({ fsync_interval: 0, fsync_batch: 256, rotate_size: 64 * 1024 * 1024 });
    expect(journalSchema.parse({ fsync_interval: '1s', rotate_size: '1MiB' })).toMatchObject({ fsync_interval: 1000, rotate_size: 1048576 });
  });
});

describe('journal with deferSync (replay)', () => {
  const fsyncs = async (registry: Registry) => (await registry.getSingleMetric('egressd_journal_fsyncs_total')!.get()).values[0]?.value ?? 0;

  it('acknowledges writes once queued, writes them a batch at a time, and fsyncs once on flush', async () => {
    const dir = stateDir();
    const registry = new Registry();
    const sink = createJournalSink(journalSchema.parse({ fsync_batch: 8 }), deps(dir, registry), { deferSync: true });
    await sink.start();
    for (let i = 1; i <= 20; i++) await sink.write([opened(i)]);
    expect(sink.head.seq).toBe(20);
    // A full batch is waiting: everything queued is written in the background, without an fsync.
    for (let tries = 0; sink.durableSeq < 20 && tries < 100; tries++) await new Promise((r) => setTimeout(r, 10));
    expect(sink.durableSeq).toBe(20);
    // Fewer than a batch wait for the flush.
    for (let i = 21; i <= 24; i++) await sink.write([opened(i)]);
    await new Promise((r) => setTimeout(r, 50));
    expect(sink.durableSeq).toBe(20);
    expect(await fsyncs(registry)).toBe(0);
    await sink.flush();
    expect(sink.durableSeq).toBe(24);
    expect(await fsyncs(registry)).toBe(1);
    await sink.flush();
    expect(await fsyncs(registry)).toBe(1);
    await sink.stop();
    const result = await verifyJournal(dir);
    expect(result.ok).toBe(true);
    expect(result.entries).toBe(24);
  });

  it('fsyncs a file before rotating away from it, and keeps the chain across files', async () => {
    const dir = stateDir();
    const registry = new Registry();
    const sink = createJournalSink(journalSchema.parse({ rotate_size: '4KiB', fsync_batch: 5 }), deps(dir, registry), { deferSync: true });
    await sink.start();
    for (let i = 1; i <= 30; i++) await sink.write([opened(i)]);
    for (let tries = 0; sink.durableSeq < 30 && tries < 100; tries++) await new Promise((r) => setTimeout(r, 10));
    const files = readdirSync(join(dir, 'journal')).filter((f) => f.endsWith('.ndjson'));
    expect(files.length).toBeGreaterThan(1);
    expect(await fsyncs(registry)).toBe(files.length - 1);
    await sink.stop();
    expect(await fsyncs(registry)).toBe(files.length);
    const result = await verifyJournal(dir);
    expect(result.ok).toBe(true);
    expect(result.entries).toBe(30);
  });
});
