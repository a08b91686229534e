// Packet source benchmark: `egressd replay` (the built CLI, whole pipeline) and `ndpiReader -i` on
// the same ~1M-packet capture (real captures concatenated with shifted timestamps), in the same
// run, each under /usr/bin/time, five runs each taken in turn: medians (wall, CPU, peak RSS, minor
// page faults) and the fastest run of each against the other's. Breakdown lines: bare `node -e 0`
// and CLI start-up (`egressd version`), the cost of a fresh page on this host, the CLI in its
// other capture mode (worker thread or not, EGRESSD_PCAP_WORKER), both tools reading the capture
// from a pipe (the live path), both again without NODE_EXTRA_CA_CERTS when the host sets it (Node
// then reads a CA file at every start), both held to one CPU (what V8's background compiling takes
// from the second core), the packet source alone in this process, and the capture framing vs the
// pcap-parser package.
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { CaptureReader } from '../src/decode/packet/capture.js';
import { pcapSourceSchema } from '../src/sources/pcap/config.js';
import { pcapWorkerWanted } from '../src/sources/formats.js';
import { replayPcap } from '../src/sources/pcap/index.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { sourceMetrics } from '../src/telemetry/metrics.js';
import { COMMAND, SHARED_FIXTURES, which } from '../test/support/env.js';
import { MB, report, withPeakRss } from './harness.js';

const BENCH = 'pcap';
const TARGET_PACKETS = Number(process.env.EGRESSD_BENCH_PACKETS ?? 1_000_000);
const SOURCES = [
  'ndpi/bittorrent/bittorrent.pcap',
  'ndpi/bittorrent/bittorrent_tcp_miss.pcapng',
  'ndpi/bittorrent/bittorrent_utp.pcap',
  'ndpi/non_bittorrent/sites.pcapng',
  'ndpi/non_bittorrent/exe_download.pcap',
  'ndpi/non_bittorrent/windowsupdate_over_http.pcap',
  'ndpi/non_bittorrent/google_ssl.pcap',
  'ndpi/non_bittorrent/syncthing.pcap',
];

interface BasePacket {
  offsetMs: number;
  data: Buffer;
  wireLength: number;
}

/** Ethernet packets of the source captures, with times relative to each capture's start. */
function loadBasePackets(): { packets: BasePacket[]; spanMs: number } {
  const packets: BasePacket[] = [];
  let base = 0;
  for (const rel of SOURCES) {
    const file = join(SHARED_FIXTURES, rel);
    if (!existsSync(file)) continue;
    let previous = -1;
    let last = 0;
    const reader = new CaptureReader(
      (linktype, tsMs, buf, start, end, wireLength) => {
        if (linktype !== 1) return;
        const data = buf.subarray(start, end);
        // Some public captures are merged from years apart: gaps longer than 5 s are shortened.
        if (previous >= 0) last += Math.min(5000, Math.max(0, tsMs - previous));
        previous = tsMs;
        packets.push({ offsetMs: base + last, data: Buffer.from(data), wireLength });
      },
      () => undefined,
    );
    reader.feed(readFileSync(file));
    reader.end();
    base += last + 1000;
  }
  return { packets, spanMs: base };
}

/** Write a classic pcap of `target` packets: the base repeated, each round 2 min after the last. */
async function buildCapture(path: string, target: number): Promise<number> {
  const { packets, spanMs } = loadBasePackets();
  if (packets.length === 0) throw new Error(`no source captures under ${SHARED_FIXTURES}`);
  const out = createWriteStream(path);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  out.write(header);
  const start = Date.UTC(2026, 5, 11, 9, 0, 0);
  let written = 0;
  for (let round = 0; written < target; round++) {
    const parts: Buffer[] = [];
    for (const p of packets) {
      if (written >= target) break;
      const ts = start + round * (spanMs + 120_000) + p.offsetMs;
      const rec = Buffer.allocUnsafe(16);
      rec.writeUInt32LE(Math.floor(ts / 1000), 0);
      rec.writeUInt32LE(Math.round((ts % 1000) * 1000), 4);
      rec.writeUInt32LE(p.data.length, 8);
      rec.writeUInt32LE(p.wireLength, 12);
      parts.push(rec, p.data);
      written++;
    }
    if (!out.write(Buffer.concat(parts))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return written;
}

async function replayEgressd(path: string): Promise<{ records: number; bittorrent: number }> {
  let records = 0;
  let bittorrent = 0;
  const registry = new Registry();
  await replayPcap(
    createReadStream(path, { highWaterMark: 1024 * 1024 }),
    {
      sourceId: 'bench',
      out: {
        push: async (batch) => {
          records += batch.length;
          for (const r of batch) if (r.app?.name === 'bittorrent') bittorrent++;
        },
      },
      metrics: sourceMetrics(registry),
      logger: silentLogger(),
    },
    pcapSourceSchema.parse({ type: 'pcap' }),
    { registry },
  );
  return { records, bittorrent };
}

/** Framing only: count packets with our reader and with pcap-parser. */
async function framingOnly(path: string): Promise<void> {
  const ours = await withPeakRss(async () => {
    let n = 0;
    const reader = new CaptureReader(
      () => n++,
      () => undefined,
    );
    // Read as replayPcap reads a file: into one reused buffer, no fresh Buffer per chunk.
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
      for (let position = 0; ; ) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        reader.feed(buffer.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
    reader.end();
    return n;
  });
  report({ bench: BENCH, metric: 'framing_packets_per_s', value: Math.round(ours.result / ours.seconds), unit: 'packets/s', note: 'egressd CaptureReader' });
  const require = createRequire(import.meta.url);
  const pcapParser = require('pcap-parser') as { parse: (input: string) => NodeJS.EventEmitter };
  const theirs = await withPeakRss(
    () =>
      new Promise<number>((resolve, reject) => {
        let n = 0;
        const parser = pcapParser.parse(path);
        parser.on('packet', () => n++);
        parser.on('end', () => resolve(n));
        parser.on('error', reject);
      }),
  );
  report({ bench: BENCH, metric: 'framing_packets_per_s', value: Math.round(theirs.result / theirs.seconds), unit: 'packets/s', note: 'pcap-parser package' });
  report({ bench: BENCH, metric: 'framing_speedup_vs_pcap_parser', value: Number((theirs.seconds / ours.seconds).toFixed(2)), unit: 'x' });
}

interface TimedRun {
  wall: number;
  cpu: number;
  rssMb: number;
  /** Minor page faults: memory touched for the first time (costly on a virtual machine). */
  pageFaults: number;
}

/** Five runs of each, in turn: on a shared 2-core host single runs vary by 20 % or more. */
const RUNS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** `egressd replay` of the capture under /usr/bin/time, with a state directory of its own; `wrapper` runs it (e.g. taskset). */
function timedReplay(path: string, dir: string, env: NodeJS.ProcessEnv = {}, wrapper: string[] = []): TimedRun {
  const replay = [COMMAND, 'replay', '--state-dir', mkdtempSync(join(dir, 'state-')), path];
  const [command, ...args] = [...wrapper, ...replay];
  return timed(command!, args, env);
}

/** Run a command under /usr/bin/time (stdout discarded): wall, user+sys CPU seconds, peak RSS, minor faults. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv = {}): TimedRun {
  const run = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M %R', command, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
    maxBuffer: 64 * MB,
  });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${run.status}): ${run.stderr.slice(-2000)}`);
  const [wall, user, sys, rssKb, faults] = (run.stderr.trim().split('\n').pop() ?? '').trim().split(/\s+/).map(Number);
  if (![wall, user, sys, rssKb, faults].every((v) => v !== undefined && Number.isFinite(v))) throw new Error(`cannot read /usr/bin/time output: ${run.stderr.slice(-500)}`);
  return { wall: wall!, cpu: user! + sys!, rssMb: rssKb! / 1024, pageFaults: faults! };
}

function medians(runs: TimedRun[]): TimedRun {
  return { wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)), rssMb: median(runs.map((r) => r.rssMb)), pageFaults: median(runs.map((r) => r.pageFaults)) };
}

function reportRuns(name: string, packets: number, m: TimedRun): void {
  report({ bench: BENCH, metric: 'packets_per_s', value: Math.round(packets / m.wall), unit: 'packets/s', note: `${name}, wall clock incl. start-up (median of ${RUNS}: ${m.wall.toFixed(2)} s)` });
  report({ bench: BENCH, metric: 'packets_per_cpu_s', value: Math.round(packets / m.cpu), unit: 'packets/s', note: `${name}, per CPU second user+sys (median ${m.cpu.toFixed(2)} CPU-s)` });
  report({ bench: BENCH, metric: 'peak_rss_mb', value: Math.round(m.rssMb), unit: 'MB', note: name });
  report({ bench: BENCH, metric: 'minor_page_faults', value: Math.round(m.pageFaults), note: `${name}: pages touched for the first time` });
}

/** Microseconds to touch a fresh page: on a virtual machine each costs far more than on bare metal. */
function firstTouchMicros(): number {
  const bytes = 64 * MB;
  const start = process.hrtime.bigint();
  const fresh = Buffer.allocUnsafeSlow(bytes);
  for (let i = 0; i < bytes; i += 4096) fresh[i] = 1;
  return Number(process.hrtime.bigint() - start) / 1000 / (bytes / 4096);
}

/** The built CLI end to end against ndpiReader, runs taken in turn so load hits both alike. */
function cliVersusNdpiReader(path: string, packets: number, dir: string): void {
  if (!existsSync(COMMAND)) throw new Error(`${COMMAND} missing: run npm run build first`);
  const ndpiReader = which('ndpiReader');
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time missing (Debian package time)');
  // The default mode on this host first; the other one as a breakdown line.
  const onWorker = pcapWorkerWanted();
  const modes = [
    { name: `egressd replay (CLI, whole pipeline, default here: ${onWorker ? 'worker thread' : 'one thread'})`, env: {} },
    onWorker
      ? { name: 'egressd replay with EGRESSD_PCAP_WORKER=0 (one thread)', env: { EGRESSD_PCAP_WORKER: '0' } }
      : { name: 'egressd replay with EGRESSD_PCAP_WORKER=1 (capture on a worker thread)', env: { EGRESSD_PCAP_WORKER: '1' } },
  ];
  const runs: TimedRun[][] = modes.map(() => []);
  const theirs: TimedRun[] = [];
  const startUp: TimedRun[] = [];
  const bareNode: TimedRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    startUp.push(timed(COMMAND, ['version']));
    bareNode.push(timed(process.execPath, ['-e', '0']));
    runs[0]!.push(timedReplay(path, dir, modes[0]!.env));
    if (ndpiReader) theirs.push(timed(ndpiReader, ['-i', path, '-q']));
    runs[1]!.push(timedReplay(path, dir, modes[1]!.env));
  }
  const [load1] = loadavg();
  report({ bench: BENCH, metric: 'load_average_1m', value: Number((load1 ?? 0).toFixed(2)), note: `host load after the runs (${availableParallelism()} CPUs, shared)` });
  report({ bench: BENCH, metric: 'startup_s', value: Number(medians(startUp).wall.toFixed(2)), unit: 's', note: `egressd version: CLI start-up, median of ${RUNS}` });
  report({ bench: BENCH, metric: 'node_startup_s', value: Number(medians(bareNode).wall.toFixed(2)), unit: 's', note: `node -e 0 on this host: the floor of any Node program, median of ${RUNS}` });
  report({ bench: BENCH, metric: 'page_fault_us', value: Number(firstTouchMicros().toFixed(1)), unit: 'µs', note: 'this host: first touch of a fresh 4 KiB page (64 MiB touched), what each page of peak memory costs' });
  const results = runs.map(medians);
  results.forEach((m, i) => reportRuns(modes[i]!.name, packets, m));
  if (!ndpiReader) {
    report({ bench: BENCH, metric: 'ratio_vs_ndpiReader', value: 0, note: 'ndpiReader not installed: no comparison' });
    return;
  }
  const n = medians(theirs);
  reportRuns('ndpiReader -i -q', packets, n);
  const [ours, other] = results as [TimedRun, TimedRun];
  report({ bench: BENCH, metric: 'ratio_vs_ndpiReader', value: Number((n.wall / ours.wall).toFixed(2)), unit: 'x', note: 'wall clock: ndpiReader s ÷ egressd replay s, default mode (target ≥ 1.0)' });
  report({ bench: BENCH, metric: 'cpu_ratio_vs_ndpiReader', value: Number((n.cpu / ours.cpu).toFixed(2)), unit: 'x', note: 'CPU: ndpiReader CPU-s ÷ egressd replay CPU-s (user+sys, all threads), default mode' });
  // Fastest against fastest: the runs least disturbed by other load on a shared host.
  const fastest = (r: TimedRun[]) => Math.min(...r.map((t) => t.wall));
  report({
    bench: BENCH,
    metric: 'ratio_vs_ndpiReader_fastest',
    value: Number((fastest(theirs) / fastest(runs[0]!)).toFixed(2)),
    unit: 'x',
    note: `wall clock, fastest of ${RUNS} each: ndpiReader ${fastest(theirs).toFixed(2)} s, egressd replay ${fastest(runs[0]!).toFixed(2)} s, default mode`,
  });
  const otherTag = onWorker ? 'one_thread' : 'worker';
  report({ bench: BENCH, metric: `ratio_vs_ndpiReader_${otherTag}`, value: Number((n.wall / other.wall).toFixed(2)), unit: 'x', note: `wall clock, ${modes[1]!.name}` });
  report({ bench: BENCH, metric: `cpu_ratio_vs_ndpiReader_${otherTag}`, value: Number((n.cpu / other.cpu).toFixed(2)), unit: 'x', note: `CPU, ${modes[1]!.name}` });
  pipedVersusNdpiReader(path, packets, dir, ndpiReader);
  withoutExtraCaCerts(path, packets, dir, ndpiReader);
  onOneCpu(path, packets, dir, ndpiReader);
}

/**
 * Both tools held to one CPU (`taskset -c 0`), runs taken in turn. ndpiReader runs on one thread
 * either way; egressd's JavaScript is compiled by V8 on background threads while it runs, so this
 * shows what the second core is worth to it (and what any work moved to a second thread takes away).
 */
function onOneCpu(path: string, packets: number, dir: string, ndpiReader: string): void {
  const taskset = which('taskset');
  if (!taskset || availableParallelism() < 2) {
    report({ bench: BENCH, metric: 'ratio_vs_ndpiReader_one_cpu', value: 0, note: taskset ? 'one CPU only on this host: no comparison' : 'taskset not installed: no comparison' });
    return;
  }
  const ours: TimedRun[] = [];
  const theirs: TimedRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    ours.push(timedReplay(path, dir, {}, [taskset, '-c', '0']));
    theirs.push(timed(taskset, ['-c', '0', ndpiReader, '-i', path, '-q']));
  }
  const o = medians(ours);
  const n = medians(theirs);
  reportRuns('egressd replay on one CPU (taskset -c 0)', packets, o);
  reportRuns('ndpiReader -i -q on one CPU (taskset -c 0)', packets, n);
  report({ bench: BENCH, metric: 'ratio_vs_ndpiReader_one_cpu', value: Number((n.wall / o.wall).toFixed(2)), unit: 'x', note: 'wall clock, both held to one CPU' });
}

/**
 * NODE_EXTRA_CA_CERTS (set on some hosts for a TLS-intercepting proxy) makes Node read and parse
 * that CA file at every start, before any of the program runs: on the host this was written on,
 * `node -e 0` took 0.10 s with it and 0.06 s without. When it is set, the replay is timed with and
 * without it, and ndpiReader, all in turn: what a gateway without such a proxy would see.
 */
function withoutExtraCaCerts(path: string, packets: number, dir: string, ndpiReader: string): void {
  if (process.env.NODE_EXTRA_CA_CERTS === undefined) return;
  const unset = { NODE_EXTRA_CA_CERTS: undefined };
  const withIt: TimedRun[] = [];
  const without: TimedRun[] = [];
  const theirs: TimedRun[] = [];
  const bareNode: TimedRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    bareNode.push(timed(process.execPath, ['-e', '0'], unset));
    withIt.push(timedReplay(path, dir));
    without.push(timedReplay(path, dir, unset));
    theirs.push(timed(ndpiReader, ['-i', path, '-q']));
  }
  const n = medians(theirs);
  const note = 'NODE_EXTRA_CA_CERTS unset (this host sets it)';
  report({ bench: BENCH, metric: 'node_startup_s', value: Number(medians(bareNode).wall.toFixed(2)), unit: 's', note: `node -e 0, ${note}, median of ${RUNS}` });
  reportRuns('egressd replay (default mode), taken in turn with the two lines below', packets, medians(withIt));
  reportRuns(`egressd replay (default mode), ${note}`, packets, medians(without));
  reportRuns('ndpiReader -i -q, taken in turn with the two lines above', packets, n);
  report({ bench: BENCH, metric: 'ratio_vs_ndpiReader_no_extra_ca_certs', value: Number((n.wall / medians(without).wall).toFixed(2)), unit: 'x', note: `wall clock, ${note}; with it, in the same turns: ${(n.wall / medians(withIt).wall).toFixed(2)}` });
}

/**
 * The live path: the capture piped into each tool (`cat capture | …`, as `tcpdump -w - | …` feeds
 * it on a gateway), runs taken in turn; wall and CPU include cat's copying into the pipe.
 */
function pipedVersusNdpiReader(path: string, packets: number, dir: string, ndpiReader: string): void {
  const piped = (command: string) => timed('/bin/sh', ['-c', `cat "$0" | ${command}`, path]);
  const ours: TimedRun[] = [];
  const theirs: TimedRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    ours.push(piped(`"${COMMAND}" replay --format pcap --state-dir "${mkdtempSync(join(dir, 'state-'))}" -`));
    theirs.push(piped(`"${ndpiReader}" -i - -q`));
  }
  const o = medians(ours);
  const n = medians(theirs);
  reportRuns('cat capture | egressd replay --format pcap - (standard input, a pipe)', packets, o);
  reportRuns('cat capture | ndpiReader -i - -q (standard input, a pipe)', packets, n);
  report({ bench: BENCH, metric: 'ratio_vs_ndpiReader_pipe', value: Number((n.wall / o.wall).toFixed(2)), unit: 'x', note: 'wall clock, both reading the capture from a pipe' });
}

/** Breakdown: the packet source alone, in this process (no CLI start-up, enrichment or detection). */
async function packetSourceInProcess(path: string, packets: number): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  const cpuBefore = process.cpuUsage();
  const ours = await withPeakRss(() => replayEgressd(path));
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  report({ bench: BENCH, metric: 'packets_per_s', value: Math.round(packets / ours.seconds), unit: 'packets/s', note: 'breakdown: replayPcap in-process (flows + identification only)' });
  report({ bench: BENCH, metric: 'packets_per_cpu_s', value: Math.round(packets / cpuSeconds), unit: 'packets/s', note: 'breakdown: replayPcap in-process, per CPU second' });
  report({ bench: BENCH, metric: 'peak_rss_mb', value: Math.round(ours.peakRssBytes / MB), unit: 'MB', note: 'breakdown: this process during replayPcap' });
  report({ bench: BENCH, metric: 'records', value: ours.result.records, note: `${ours.result.bittorrent} BitTorrent` });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'egressd-bench-pcap-'));
  try {
    const path = join(dir, 'replay.pcap');
    const packets = await buildCapture(path, TARGET_PACKETS);
    report({ bench: BENCH, metric: 'input_packets', value: packets, note: `${(statSync(path).size / MB).toFixed(1)} MB` });
    cliVersusNdpiReader(path, packets, dir);
    await packetSourceInProcess(path, packets);
    await framingOnly(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
