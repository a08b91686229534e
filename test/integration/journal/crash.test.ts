import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalSchema } from '../../../src/sinks/journal/config.js';
import { createJournalSink, readJournal, verifyJournal, type VerifyResult } from '../../../src/sinks/journal/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { REPO_ROOT, tempDir, waitFor } from '../../support/env.js';

// A daemon SIGKILLed while writing must leave a journal that verifies up to its last synced
// entry (or names its torn tail exactly), and every acknowledged entry must be in it.

const HERE = dirname(fileURLToPath(import.meta.url));
const BUILT = join(REPO_ROOT, 'dist', 'src', 'sinks', 'journal', 'index.js');
const SOURCES = [
  'src/sinks/journal/index.ts',
  'src/sinks/journal/format.ts',
  'src/sinks/journal/reader.ts',
  'src/sinks/journal/metrics.ts',
  'src/sinks/journal/config.ts',
];
const CONFIG = { rotate_size: '512KiB' };

function builtIsFresh(): boolean {
  if (!existsSync(BUILT)) return false;
  return SOURCES.every((s) => {
    const js = join(REPO_ROOT, 'dist', s.replace(/\.ts$/, '.js'));
    return existsSync(js) && statSync(js).mtimeMs >= statSync(join(REPO_ROOT, s)).mtimeMs;
  });
}

beforeAll(() => {
  if (builtIsFresh()) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'pipe' });
  } catch (err) {
    // Type errors elsewhere in the tree still emit; only a missing journal build is our problem.
    if (!builtIsFresh()) throw err;
  }
}, 180_000);

const state = tempDir('egressd-journal-crash-');
afterAll(() => state.remove());

interface Round {
  acked: number[];
  before: VerifyResult;
}

/** Start the writer, let it run for `runMs` after it is ready, then SIGKILL it. */
async function crashRound(firstN: number, runMs: number): Promise<Round> {
  const child = spawn(process.execPath, [join(HERE, 'writer.mjs'), state.path, String(firstN), JSON.stringify(CONFIG)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await waitFor(() => stdout.includes('ready\n') || child.exitCode !== null, 30_000, 'journal writer ready');
    expect(child.exitCode, stderr).toBeNull();
    await new Promise((r) => setTimeout(r, runMs));
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  expect(child.signalCode, stderr).toBe('SIGKILL');
  // Only complete lines count: an ack cut by the kill was not fully printed.
  const acked = [...stdout.slice(0, stdout.lastIndexOf('\n') + 1).matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
  return { acked, before: await verifyJournal(state.path) };
}

function journalFiles(): string[] {
  return readdirSync(join(state.path, 'journal'))
    .filter((f) => f.endsWith('.ndjson'))
    .sort();
}

function expectPreciseTornTail(result: VerifyResult): void {
  const b = result.broken!;
  expect(b.reason).toBe('truncated_tail');
  const files = journalFiles();
  expect(b.file).toBe(files.at(-1));
  const bytes = readFileSync(b.path);
  // The torn bytes start right after the last newline and run to the end of the file.
  expect(b.offset === 0 || bytes[b.offset - 1] === 10).toBe(true);
  expect(bytes.subarray(b.offset).includes(10)).toBe(false);
  expect(b.line).toBe(bytes.subarray(0, b.offset).filter((c) => c === 10).length + 1);
  expect(b.seq).toBe(result.head.seq + 1);
}

async function recoverAndVerify(): Promise<VerifyResult> {
  const sink = createJournalSink(journalSchema.parse(CONFIG), {
    logger: silentLogger(),
    registry: new Registry(),
    stateDir: state.path,
    onFatal: (err) => {
      throw err;
    },
    audit: () => undefined,
  });
  await sink.start();
  await sink.stop();
  return verifyJournal(state.path);
}

describe('journal survives SIGKILL during writes', () => {
  it('verifies after every crash and keeps every acknowledged entry', async () => {
    const acked: number[] = [];
    let tornTails = 0;
    const rounds = 8;
    for (let round = 0; round < rounds; round++) {
      const { acked: ackedNow, before } = await crashRound(round * 1_000_000, 40 + Math.floor(Math.random() * 500));
      expect(ackedNow.length, `round ${round} acknowledged nothing`).toBeGreaterThan(0);
      acked.push(...ackedNow);
      if (!before.ok) {
        expectPreciseTornTail(before);
        tornTails++;
      }
      // Every other round the test recovers the journal itself; otherwise the next writer does.
      if (round % 2 === 0 || round === rounds - 1) {
        const after = await recoverAndVerify();
        expect(after.ok, JSON.stringify(after.broken)).toBe(true);
      }
    }

    const present = new Set<number>();
    let recovered = 0;
    let previousSeq = 0;
    for await (const entry of readJournal(state.path)) {
      expect(entry.seq).toBe(previousSeq + 1);
      previousSeq = entry.seq;
      if (entry.event?.action === 'crash_test') present.add(entry.event.n as number);
      if (entry.event?.action === 'journal_recovered') recovered++;
    }
    const missing = acked.filter((n) => !present.has(n));
    expect(missing).toEqual([]);
    expect(recovered).toBe(tornTails);
    const files = journalFiles();
    console.info(`journal crash test: ${rounds} rounds, ${acked.length} acknowledged, ${present.size} present, ${tornTails} torn tails cut, ${files.length} files`);
  });
});
