// Squid access.log benchmark: ~1M native-format lines (page views, media and archive
// downloads with sequential names, CONNECT tunnels, a few tracker announces and .torrent
// fetches) decoded and enriched (Enricher, default networks) on one core; in memory (decoder
// and enrichment only) and from a file through replayLines. Reference in the same run: awk
// splitting the same file and summing the bytes column, and wc -l (the I/O floor).
// Measured 2026-11-23, load average 0.6-0.9 on 2 cores, lines/s wall (lines per CPU-second):
// parse only 603k (583k), parse + Enricher 563k (557k), from file 480k (453k, reads included);
// awk 3.1M. Before the hot-path work, same run conditions: 510k (495k), 458k (457k), 394k (376k).
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createSquidDecoder } from '../src/decode/squid/index.js';
import { DecodeError } from '../src/errors.js';
import { Enricher, approvedSourcesSchema, networksSchema } from '../src/enrich/index.js';
import type { FlowRecord } from '../src/record.js';
import { replayLines } from '../src/sources/file/index.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { sourceMetrics } from '../src/telemetry/metrics.js';
import { which } from '../test/support/env.js';
import { MB, report, withPeakRss } from './harness.js';

const BENCH = 'squid';
const LINES = Number(process.env.EGRESSD_BENCH_SQUID_LINES ?? 1_000_000);
const T0 = 1781168400;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

const HOSTS = ['www.example.com', 'cdn.example.net', 'static.example.org', 'media.example.tv', 'api.example.io', 'files.example.com'];
const TYPES = ['text/html', 'image/png', 'application/javascript', 'text/css', 'application/json'];
const USERS = ['-', '-', 'alice', 'bob', 'CORP%5Ccarol'];

function squidLine(i: number, r: () => number): string {
  const t = T0 + i / 200;
  const ts = `${Math.floor(t)}.${String(Math.floor((t % 1) * 1000)).padStart(3, '0')}`;
  const client = `10.${r() & 15}.${r() & 255}.${(r() & 253) + 1}`;
  const server = `${(r() % 200) + 11}.${r() & 255}.${r() & 255}.${(r() & 253) + 1}`;
  const elapsed = String(r() % 5000).padStart(6, ' ');
  const user = USERS[r() % USERS.length]!;
  const host = HOSTS[r() % HOSTS.length]!;
  const kind = r() % 100;
  if (kind < 20) {
    return `${ts} ${elapsed} ${client} TCP_TUNNEL/200 ${r() % 500_000} CONNECT ${host}:443 ${user} HIER_DIRECT/${server} -\n`;
  }
  if (kind < 35) {
    const n = String(r() % 5000).padStart(4, '0');
    return `${ts} ${elapsed} ${client} TCP_MISS/200 ${r() % 50_000_000} GET http://${host}/videos/season-2/episode-${n}.mp4?token=${r().toString(36)} ${user} HIER_DIRECT/${server} video/mp4\n`;
  }
  if (kind < 40) {
    return `${ts} ${elapsed} ${client} TCP_MISS/200 ${r() % 500_000_000} GET http://${host}/dumps/part-${r() % 900}.tar.gz ${user} HIER_DIRECT/${server} application/gzip\n`;
  }
  if (i % 997 === 0) {
    return `${ts} ${elapsed} ${client} TCP_MISS/200 ${r() % 500} GET http://tracker.example.org:6969/announce?info_hash=%12%34Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A&peer_id=-TR3000-abcdefghijkl&port=51413 - HIER_DIRECT/${server} text/plain\n`;
  }
  const page = `/${['news', 'shop', 'docs', 'blog'][r() & 3]}/${r().toString(36)}${['.html', '.png', '.js', '.css', ''][r() % 5]}`;
  return `${ts} ${elapsed} ${client} TCP_MISS/${r() % 10 === 0 ? 304 : 200} ${r() % 200_000} GET http://${host}${page} ${user} HIER_DIRECT/${server} ${TYPES[r() % TYPES.length]}\n`;
}

function writeLog(path: string): void {
  const fd = openSync(path, 'w');
  const r = rng(42);
  try {
    let block = '';
    for (let i = 0; i < LINES; i++) {
      block += squidLine(i, r);
      if (block.length > 1_000_000) {
        writeSync(fd, block);
        block = '';
      }
    }
    if (block.length > 0) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
}

/**
 * Decoder (and optionally the Enricher) over lines already in memory: the CPU cost alone. A
 * sample of 100,000 lines is decoded `passes` times so the live heap stays small, as it does
 * when tailing a log.
 */
function inMemory(sample: string[], passes: number, enrich: boolean, quiet = false): void {
  const lines = { length: sample.length * passes };
  const decoder = createSquidDecoder('bench', { logformat: 'squid' });
  const enricher = new Enricher(networksSchema.parse({}), approvedSourcesSchema.parse({}));
  const batch: FlowRecord[] = [];
  let records = 0;
  let egress = 0;
  let errors = 0;
  if (global.gc) global.gc();
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let pass = 0; pass < passes; pass++) for (let i = 0; i < sample.length; i++) {
    try {
      decoder.decodeLine(sample[i]!, batch);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      errors++;
    }
    if (batch.length >= 1000) {
      if (enrich) for (let k = 0; k < batch.length; k++) if (enricher.enrich(batch[k]!)) egress++;
      records += batch.length;
      batch.length = 0;
    }
  }
  if (enrich) for (let k = 0; k < batch.length; k++) if (enricher.enrich(batch[k]!)) egress++;
  records += batch.length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const what = enrich ? 'decode_enrich' : 'decode_only';
  const cpuNote = `${cpuSeconds.toFixed(2)} CPU-s, `;
  if (quiet) return;
  // CPU time as well as wall time: on a shared, loaded machine the wall clock also counts
  // the time other processes held the core.
  report({
    bench: BENCH,
    metric: `native_${what}_in_memory_lines_per_cpu_s`,
    value: Math.round(lines.length / cpuSeconds),
    unit: 'lines/cpu-s',
    note: `${cpuNote}load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
  });
  report({
    bench: BENCH,
    metric: `native_${what}_in_memory_lines_per_s`,
    value: Math.round(lines.length / seconds),
    unit: 'lines/s',
    note: `${lines.length} lines, ${records} records, ${errors} errors${enrich ? `, ${egress} egress` : ''}, one core, target >= 500000`,
  });
}

async function fromFile(path: string): Promise<void> {
  const enricher = new Enricher(networksSchema.parse({}), approvedSourcesSchema.parse({}));
  let records = 0;
  if (global.gc) global.gc();
  const cpuStart = process.cpuUsage();
  const { seconds, peakRssBytes } = await withPeakRss(() =>
    replayLines(createReadStream(path, { highWaterMark: 256 * 1024 }), createSquidDecoder('bench', { logformat: 'squid' }), {
      sourceId: 'bench',
      metrics: sourceMetrics(new Registry()),
      logger: silentLogger(),
      out: {
        push: async (batch) => {
          records += batch.length;
          for (let i = 0; i < batch.length; i++) enricher.enrich(batch[i]!);
        },
      },
    }),
  );
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const bytes = statSync(path).size;
  const note = `${LINES} lines, ${records} records, ${(bytes / MB).toFixed(0)} MiB, replayLines + Enricher`;
  report({
    bench: BENCH,
    metric: 'native_file_decode_enrich_lines_per_cpu_s',
    value: Math.round(LINES / cpuSeconds),
    unit: 'lines/cpu-s',
    note: `${cpuSeconds.toFixed(2)} CPU-s (reads included), load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
  });
  report({ bench: BENCH, metric: 'native_file_decode_enrich_lines_per_s', value: Math.round(LINES / seconds), unit: 'lines/s', note });
  report({ bench: BENCH, metric: 'native_file_decode_enrich_mib_per_s', value: Number((bytes / MB / seconds).toFixed(1)), unit: 'MiB/s' });
  report({ bench: BENCH, metric: 'native_file_decode_enrich_peak_rss_mb', value: Math.round(peakRssBytes / MB), unit: 'MB' });
}

function reference(path: string, tool: string, args: string[]): void {
  const bin = which(tool);
  if (!bin) {
    report({ bench: BENCH, metric: `native_${tool}_lines_per_s`, value: 0, note: `${tool} not installed` });
    return;
  }
  const start = process.hrtime.bigint();
  const result = spawnSync(bin, [...args, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${tool} failed`);
  report({ bench: BENCH, metric: `native_${tool}_lines_per_s`, value: Math.round(LINES / seconds), unit: 'lines/s', note: `${tool} ${args.join(' ')}` });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'egressd-bench-squid-'));
  try {
    const path = join(dir, 'access.log');
    writeLog(path);
    reference(path, 'wc', ['-l']);
    reference(path, 'awk', ['{ s += $5 } END { print s }']);
    // Copies, so the sample does not keep the whole file's text alive.
    const sample = readFileSync(path, 'utf8').split('\n', 100_000).map((l) => Buffer.from(l).toString());
    const passes = Math.max(1, Math.round(LINES / sample.length));
    // A warm-up pass so the JIT has seen every path before the measured ones.
    inMemory(sample, 1, true, true);
    inMemory(sample, passes, false);
    inMemory(sample, passes, true);
    await fromFile(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
