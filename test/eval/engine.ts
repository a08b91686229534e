import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScoredIncident } from './score.js';

// Drive the engine only through `egressd replay`, so the evaluation stays decoupled from its internals.

/** The repository root, from the source tree (test/eval) or the build (dist/test/eval). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('cannot find the repository root above test/eval');
}

export function cliPath(root = repoRoot()): string {
  return join(root, 'dist', 'src', 'cli', 'main.js');
}

/** A rules directory for the simulated company: its networks and approvals plus the shipped detection rules. */
export function prepareRules(target: string, root = repoRoot()): { dir: string; detection: 'shipped' | 'defaults' } {
  mkdirSync(target, { recursive: true });
  const own = join(root, 'test', 'eval', 'rules');
  for (const f of ['networks.yaml', 'approved-sources.yaml']) copyFileSync(join(own, f), join(target, f));
  const shipped = join(root, 'rules', 'detection.yaml');
  if (existsSync(shipped)) {
    copyFileSync(shipped, join(target, 'detection.yaml'));
    return { dir: target, detection: 'shipped' };
  }
  return { dir: target, detection: 'defaults' };
}

export interface ReplayResult {
  code: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** User + system CPU seconds and peak RSS of the replay process, when GNU time is installed. */
  cpuSeconds?: number;
  peakRssMiB?: number;
  incidents: ScoredIncident[];
  stderr: string;
  /** Lines of output that were not incidents (kept short, for diagnostics). */
  unparsed: number;
}

/**
 * Parse replay output: one JSON incident per line (or `{change, incident}` changes); the last
 * line per incident id is its final state.
 */
export function parseIncidents(text: string): { incidents: ScoredIncident[]; unparsed: number } {
  const byId = new Map<string, ScoredIncident>();
  let unparsed = 0;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) {
      if (trimmed) unparsed++;
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      unparsed++;
      continue;
    }
    const obj = value as { incident?: unknown };
    const inc = (obj.incident ?? obj) as Partial<ScoredIncident>;
    if (typeof inc.id !== 'string' || typeof inc.kind !== 'string' || !Array.isArray(inc.hosts) || typeof inc.first_seen !== 'string') {
      unparsed++;
      continue;
    }
    byId.set(inc.id, inc as ScoredIncident);
  }
  return { incidents: [...byId.values()], unparsed };
}

/**
 * Event time at which each incident was opened, from the replay's journal (the audit trail under
 * the state directory): the `last_seen` of its `opened` entry. The final incident's `first_seen`
 * says when the evidence window began, not when the engine raised the alert.
 */
export function openedTimes(stateDir: string): Map<string, string> {
  const dir = join(stateDir, 'journal');
  const opened = new Map<string, string>();
  if (!existsSync(dir)) return opened;
  const files = readdirSync(dir)
    .filter((f) => /^journal-\d+\.ndjson$/.test(f))
    .sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')));
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.includes('"change":"opened"')) continue;
      try {
        const entry = JSON.parse(line) as { type?: string; change?: string; incident?: { id?: string; last_seen?: string } };
        const id = entry.incident?.id;
        const at = entry.incident?.last_seen;
        if (entry.type === 'incident' && entry.change === 'opened' && id && at && !opened.has(id)) opened.set(id, at);
      } catch {
        // A torn last line: the journal recovers it on its next start.
      }
    }
  }
  return opened;
}

const GNU_TIME = '/usr/bin/time';
const TIME_MARK = 'EGRESSD_EVAL_RUSAGE';

export async function replay(options: {
  files: string[];
  format: string;
  rulesDir: string;
  stateDir: string;
  outFile: string;
  /** Further replay options (e.g. `--squid-logformat combined`). */
  extraArgs?: string[];
  cli?: string;
  timeoutMs?: number;
}): Promise<ReplayResult> {
  mkdirSync(options.stateDir, { recursive: true });
  const args = [
    options.cli ?? cliPath(),
    'replay',
    '--format',
    options.format,
    '--rules',
    options.rulesDir,
    '--state-dir',
    options.stateDir,
    '--out',
    options.outFile,
    ...(options.extraArgs ?? []),
    ...options.files,
  ];
  // GNU time reports the replay's own CPU time: wall time on a shared machine says little.
  const timed = existsSync(GNU_TIME);
  const command = timed ? GNU_TIME : process.execPath;
  const commandArgs = timed ? ['-f', `${TIME_MARK} %U %S %M`, process.execPath, ...args] : args;
  const started = process.hrtime.bigint();
  const run = await new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; error?: Error }>((done) => {
    // Its own process group, so a timeout stops the replay under GNU time too.
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < 64 * 1024 * 1024) stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-64_000)));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, options.timeoutMs ?? 600_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      done({ status: null, signal: null, stdout, stderr, error });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr });
    });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const text = existsSync(options.outFile) ? readFileSync(options.outFile, 'utf8') : run.stdout;
  const parsed = parseIncidents(text);
  const opened = openedTimes(options.stateDir);
  for (const inc of parsed.incidents) {
    const at = opened.get(inc.id);
    if (at && inc.detected_at === undefined && inc.opened_at === undefined) inc.opened_at = at;
  }
  let stderr = run.stderr;
  let cpu: { cpuSeconds?: number; peakRssMiB?: number } = {};
  const mark = stderr.lastIndexOf(TIME_MARK);
  if (timed && mark >= 0) {
    const [user, system, rssKiB] = stderr.slice(mark + TIME_MARK.length).trim().split(/\s+/).map(Number);
    cpu = { cpuSeconds: (user ?? 0) + (system ?? 0), peakRssMiB: Math.round((rssKiB ?? 0) / 1024) };
    stderr = stderr.slice(0, mark);
  }
  return {
    code: run.status ?? (run.signal ? 128 : 1),
    seconds,
    ...cpu,
    incidents: parsed.incidents,
    stderr: stderr.slice(-4_000) + (run.error ? `\n${run.error.message}` : ''),
    unparsed: parsed.unparsed,
  };
}
