// NetFlow/IPFIX collector benchmark.
//  1. Decode: records/s on one core, an in-process loop over real softflowd exports
//     (v5, v9, IPFIX) and over generator IPFIX datagrams (30 records each).
//  2. Live ingest: a child process sends IPFIX to 127.0.0.1 at fixed record rates for a bounded
//     step (default 10 s, the 60 s shortened to keep the run short); the highest rate with
//     zero loss is reported for egressd's collector and for nfcapd (Debian nfdump) receiving the
//     same stream in the same run.
// Usage: node dist/bench/netflow.js [--step-seconds N] [--rates 100000,200000,...] [--nice N]
//   --nice N runs both receivers (and the generator) at that scheduling priority (root for < 0),
//   to measure the collectors rather than a busy shared machine.

import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetflowDecoder } from '../src/decode/netflow/index.js';
import {
  BENCH_IPFIX_FIELDS,
  benchIpfixDataSet,
  ipfixMessage,
  set,
  templateRecord,
} from '../src/decode/netflow/testdata/datagrams.js';
import type { FlowRecord } from '../src/record.js';
import { netflowSourceSchema } from '../src/sources/netflow/config.js';
import { createNetflowSource } from '../src/sources/netflow/index.js';
import { kernelDrops } from '../src/sources/netflow/metrics.js';
import { udpDatagrams } from '../src/sources/netflow/pcap-frames.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { createRegistry } from '../src/telemetry/metrics.js';
import { MB, report, withPeakRss } from './harness.js';

const BENCH = 'netflow';
const RECORDS_PER_DATAGRAM = 30;
const TEMPLATE_ID = 256;

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ---------------------------------------------------------------- generator (child process)

async function generate(port: number, recordsPerSecond: number, seconds: number): Promise<void> {
  const socket = createSocket({ type: 'udp4', sendBufferSize: 4 * MB });
  await new Promise<void>((r) => socket.connect(port, '127.0.0.1', () => r()));
  const nowMs = Date.now();
  const template = ipfixMessage(1, Math.floor(nowMs / 1000), [set(2, templateRecord(TEMPLATE_ID, BENCH_IPFIX_FIELDS))]);
  const datagrams = Array.from({ length: 256 }, (_, i) =>
    ipfixMessage(1, Math.floor(nowMs / 1000), [benchIpfixDataSet(TEMPLATE_ID, RECORDS_PER_DATAGRAM, i, nowMs)]),
  );
  let inFlight = 0;
  const sent = () => inFlight--;
  const send = (d: Uint8Array) => {
    inFlight++;
    socket.send(d, sent);
  };
  send(template);
  const perSecond = recordsPerSecond / RECORDS_PER_DATAGRAM;
  const start = performance.now();
  let datagramsSent = 0;
  let lastTemplate = start;
  for (;;) {
    const now = performance.now();
    const elapsed = (now - start) / 1000;
    if (elapsed >= seconds) break;
    if (now - lastTemplate >= 1000) {
      send(template);
      lastTemplate = now;
    }
    const due = Math.min(Math.floor(elapsed * perSecond) - datagramsSent, 2048);
    for (let i = 0; i < due && inFlight < 8192; i++) {
      send(datagrams[datagramsSent % datagrams.length]!);
      datagramsSent++;
    }
    // Bursts every millisecond or so: the generator must not eat the receiver's core.
    await new Promise((r) => setTimeout(r, 1));
  }
  const actualSeconds = (performance.now() - start) / 1000;
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  socket.close();
  process.stdout.write(JSON.stringify({ records: datagramsSent * RECORDS_PER_DATAGRAM, seconds: actualSeconds }) + '\n');
}

function runGenerator(port: number, rate: number, seconds: number): Promise<{ records: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--generate', String(port), String(rate), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`generator exited with ${code}`));
      else resolve(JSON.parse(out.trim()) as { records: number; seconds: number });
    });
  });
}

// ---------------------------------------------------------------- decode throughput

async function readDatagrams(file: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const d of udpDatagrams([readFileSync(file)])) out.push(Uint8Array.from(d.payload));
  return out;
}

function decodeLoop(datagrams: Uint8Array[], seconds: number): { recordsPerSecond: number; records: number } {
  const decoder = new NetflowDecoder();
  const out: FlowRecord[] = [];
  const meta = { exporter: '127.0.0.1', receivedAt: Date.now() };
  let records = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    for (let round = 0; round < 200; round++) {
      for (const d of datagrams) {
        out.length = 0;
        decoder.decode(d, meta, out);
        records += out.length;
      }
    }
    elapsed = performance.now() - start;
  }
  return { recordsPerSecond: records / (elapsed / 1000), records };
}

async function benchDecode(): Promise<void> {
  const testdata = join(repoRoot(), 'src', 'decode', 'netflow', 'testdata');
  const inputs: { name: string; datagrams: Uint8Array[]; note: string }[] = [];
  for (const [name, v] of [
    ['v5', 5],
    ['v9', 9],
    ['ipfix', 10],
  ] as const) {
    inputs.push({
      name,
      datagrams: await readDatagrams(join(testdata, `softflowd-bittorrent-v${v}.pcap`)),
      note: `softflowd ${name} export of nDPI bittorrent.pcap, templates as sent`,
    });
  }
  const nowMs = Date.now();
  inputs.push({
    name: 'ipfix_generator',
    datagrams: [
      ipfixMessage(1, Math.floor(nowMs / 1000), [set(2, templateRecord(TEMPLATE_ID, BENCH_IPFIX_FIELDS))]),
      ...Array.from({ length: 64 }, (_, i) =>
        ipfixMessage(1, Math.floor(nowMs / 1000), [benchIpfixDataSet(TEMPLATE_ID, RECORDS_PER_DATAGRAM, i, nowMs)]),
      ),
    ],
    note: `IPFIX, ${RECORDS_PER_DATAGRAM} records per datagram (the live generator's stream)`,
  });
  for (const input of inputs) {
    decodeLoop(input.datagrams, 0.5); // warm-up
    const { result, peakRssBytes } = await withPeakRss(() => decodeLoop(input.datagrams, 3));
    report({
      bench: BENCH,
      metric: `decode_${input.name}_records_per_s`,
      value: Math.round(result.recordsPerSecond),
      unit: 'records/s',
      note: `${input.note}; one core, FlowRecord objects built; peak RSS ${Math.round(peakRssBytes / MB)} MB`,
    });
  }
}

// ---------------------------------------------------------------- live ingest

interface Step {
  rate: number;
  sent: number;
  received: number;
  sendRate: number;
  /** Kernel drops on the receiving socket (/proc/net/udp), when known. */
  drops?: number;
  /** Receiver CPU (user + system) per record received, microseconds. */
  cpuMicrosPerRecord?: number;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function stepEgressd(rate: number, seconds: number): Promise<Step> {
  const port = await freeUdpPort();
  let received = 0;
  const source = createNetflowSource(
    netflowSourceSchema.parse({ type: 'netflow', listen: [`127.0.0.1:${port}`], receive_buffer: '32MiB' }),
    {
      logger: silentLogger(),
      registry: createRegistry(),
      stateDir: tmpdir(),
      onFatal: (err) => {
        throw err;
      },
      audit: () => undefined,
      out: {
        push: async (batch) => {
          received += batch.length;
        },
      },
    },
  );
  await source.start();
  try {
    const cpu = process.cpuUsage();
    const gen = await runGenerator(port, rate, seconds);
    await new Promise((r) => setTimeout(r, 1000));
    const used = process.cpuUsage(cpu);
    const drops = kernelDrops(port);
    return {
      rate,
      sent: gen.records,
      received,
      sendRate: gen.records / gen.seconds,
      drops,
      cpuMicrosPerRecord: received > 0 ? (used.user + used.system) / received : Number.NaN,
    };
  } finally {
    await source.stop();
  }
}

async function stepNfcapd(nfcapd: string, nfdump: string, rate: number, seconds: number): Promise<Step> {
  const port = await freeUdpPort();
  const dir = mkdtempSync(join(tmpdir(), 'egressd-bench-nfcapd-'));
  const child = spawn(nfcapd, ['-b', '127.0.0.1', '-p', String(port), '-w', dir, '-t', '3600', '-B', String(32 * MB)], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  if (NICE !== 0 && child.pid !== undefined) setPriority(child.pid, NICE);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const gen = await runGenerator(port, rate, seconds);
    await new Promise((r) => setTimeout(r, 1000));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await exited;
    const summary = spawnSync(nfdump, ['-R', dir, '-I'], { encoding: 'utf8' });
    const flows = Number(/^Flows: (\d+)/m.exec(summary.stdout)?.[1] ?? 0);
    return { rate, sent: gen.records, received: flows, sendRate: gen.records / gen.seconds };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function ladder(name: string, rates: number[], step: (rate: number) => Promise<Step>): Promise<number> {
  let best = 0;
  let lossSeen = false;
  for (const rate of rates) {
    const s = await step(rate);
    const lost = s.sent - s.received;
    report({
      bench: BENCH,
      metric: `live_${name}_step`,
      value: s.received,
      unit: 'records',
      note:
        `target ${rate}/s, sent ${s.sent} at ${Math.round(s.sendRate)}/s, received ${s.received}, lost ${lost}` +
        (s.drops !== undefined ? `, kernel drops ${s.drops}` : '') +
        (s.cpuMicrosPerRecord !== undefined ? `, receiver CPU ${s.cpuMicrosPerRecord.toFixed(2)} µs/record` : ''),
    });
    if (s.sendRate < rate * 0.9) {
      report({ bench: BENCH, metric: `live_generator_limit`, value: Math.round(s.sendRate), unit: 'records/s', note: `generator could not reach ${rate}/s` });
      if (lost === 0) best = Math.max(best, Math.round(s.sendRate));
      else lossSeen = true;
      break;
    }
    if (lost !== 0) {
      lossSeen = true;
      break;
    }
    best = rate;
  }
  report({
    bench: BENCH,
    metric: `live_${name}_zero_loss_records_per_s`,
    value: best,
    unit: 'records/s',
    ...(lossSeen ? {} : { note: 'no loss at any step: a lower bound (the ladder or the generator ended first)' }),
  });
  return best;
}

const NICE = Number(arg('--nice') ?? 0);

async function benchLive(): Promise<void> {
  const seconds = Number(arg('--step-seconds') ?? 10);
  // The generator children inherit the bench process's priority; nfcapd gets it explicitly.
  if (NICE !== 0) setPriority(process.pid, NICE);
  const rates = (arg('--rates') ?? '100000,150000,200000,300000,400000,600000,800000,1000000').split(',').map(Number);
  const rmemMax = (() => {
    try {
      return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
    } catch {
      return Number.NaN;
    }
  })();
  report({
    bench: BENCH,
    metric: 'live_rmem_max',
    value: rmemMax,
    unit: 'bytes',
    note: `both receivers ask for 32 MiB; the kernel caps SO_RCVBUF at net.core.rmem_max; ${seconds} s per step; nice ${NICE}`,
  });
  const { result: ours, peakRssBytes } = await withPeakRss(() => ladder('egressd', rates, (r) => stepEgressd(r, seconds)));
  report({ bench: BENCH, metric: 'live_egressd_peak_rss_mb', value: Math.round(peakRssBytes / MB), unit: 'MB' });
  const nfcapd = ['/usr/bin/nfcapd', '/usr/sbin/nfcapd'].find(existsSync);
  const nfdump = ['/usr/bin/nfdump', '/usr/sbin/nfdump'].find(existsSync);
  if (!nfcapd || !nfdump) {
    report({ bench: BENCH, metric: 'live_nfcapd_zero_loss_records_per_s', value: Number.NaN, note: 'nfcapd not installed' });
    return;
  }
  const theirs = await ladder('nfcapd', rates, (r) => stepNfcapd(nfcapd, nfdump, r, seconds));
  report({
    bench: BENCH,
    metric: 'live_ratio_vs_nfcapd',
    value: theirs > 0 ? Math.round((ours / theirs) * 100) / 100 : Number.NaN,
    note: 'highest zero-loss rate, egressd / nfcapd (a lower bound for nfcapd when it lost nothing at any step)',
  });
}

if (process.argv[2] === '--generate') {
  await generate(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else {
  await benchDecode();
  if (!process.argv.includes('--decode-only')) await benchLive();
}
