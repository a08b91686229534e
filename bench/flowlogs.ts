// Flow-log file benchmark: ~2M VPC Flow Log v2 lines and ~1M Zeek conn.log TSV lines,
// generated into temp files, read through replayLines (parse) and the Enricher (enrichment)
// into a counting sink, one core. Reference in the same run: awk summing the bytes column
// (a C field splitter over the same file), and wc -l (the I/O floor).
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, openSync, closeSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { LineDecoder } from '../src/decode/types.js';
import { createVpcDecoder } from '../src/decode/vpc/index.js';
import { createZeekDecoder } from '../src/decode/zeek/index.js';
import { Enricher, approvedSourcesSchema, networksSchema } from '../src/enrich/index.js';
import { replayLines } from '../src/sources/file/index.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { sourceMetrics } from '../src/telemetry/metrics.js';
import { which } from '../test/support/env.js';
import { MB, report, withPeakRss } from './harness.js';

const BENCH = 'flowlogs';
const VPC_LINES = Number(process.env.EGRESSD_BENCH_VPC_LINES ?? 2_000_000);
const ZEEK_LINES = Number(process.env.EGRESSD_BENCH_ZEEK_LINES ?? 1_000_000);
const T0 = 1781168400;
const RUNS = Number(process.env.EGRESSD_BENCH_RUNS ?? 3);

/** Deterministic pseudo-random numbers, so every run reads the same files. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function writeLines(path: string, count: number, header: string, line: (i: number, r: () => number) => string): void {
  const fd = openSync(path, 'w');
  const r = rng(42);
  try {
    if (header) writeSync(fd, header);
    const block: string[] = [];
    for (let i = 0; i < count; i++) {
      block.push(line(i, r));
      if (block.length === 10_000) {
        writeSync(fd, block.join(''));
        block.length = 0;
      }
    }
    if (block.length > 0) writeSync(fd, block.join(''));
  } finally {
    closeSync(fd);
  }
}

const internal = (r: () => number) => `10.${r() & 15}.${r() & 255}.${(r() & 253) + 1}`;
const external = (r: () => number) => `${(r() % 200) + 11}.${r() & 255}.${r() & 255}.${(r() & 253) + 1}`;

function vpcLine(i: number, r: () => number): string {
  const out = (r() & 1) === 0;
  const a = internal(r);
  const b = external(r);
  const start = T0 + Math.floor(i / 1000);
  const status = i % 997 === 0 ? 'NODATA' : 'OK';
  const action = i % 101 === 0 ? 'REJECT' : 'ACCEPT';
  if (status === 'NODATA') return `2 123456789010 eni-0a1b2c3d4e5f60718 - - - - - - - ${start} ${start + 60} - NODATA\n`;
  const [src, dst] = out ? [a, b] : [b, a];
  return `2 123456789010 eni-0a1b2c3d4e5f60718 ${src} ${dst} ${1024 + (r() % 60000)} ${out ? 443 : 51413} 6 ${(r() % 2000) + 1} ${r() % 3_000_000} ${start} ${start + 60} ${action} ${status}\n`;
}

const ZEEK_HEADER =
  [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    '#path\tconn',
    '#open\t2026-06-11-09-00-00',
    '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto',
    '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount',
  ].join('\n') + '\n';
const SERVICES = ['-', 'ssl', 'http', 'dns', '-', 'ssl'];

function zeekLine(i: number, r: () => number): string {
  const ts = (T0 + i / 100).toFixed(6);
  const service = SERVICES[r() % SERVICES.length]!;
  const udp = service === 'dns';
  const ob = r() % 5000;
  const rb = r() % 2_000_000;
  const op = (r() % 200) + 1;
  const rp = (r() % 1500) + 1;
  return `${ts}\tC${i.toString(36)}\t${internal(r)}\t${1024 + (r() % 60000)}\t${external(r)}\t${udp ? 53 : 443}\t${udp ? 'udp' : 'tcp'}\t${service}\t${((r() % 100000) / 1000).toFixed(6)}\t${ob}\t${rb}\tSF\tT\tF\t0\tShADadFf\t${op}\t${ob + op * 40}\t${rp}\t${rb + rp * 40}\t-\t${udp ? 17 : 6}\n`;
}

interface Run {
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  records: number;
  egress: number;
}

async function runOnce(name: string, path: string, newDecoder: () => LineDecoder, enrich: boolean): Promise<Run> {
  const enricher = new Enricher(networksSchema.parse({}), approvedSourcesSchema.parse({}));
  const metrics = sourceMetrics(new Registry());
  let records = 0;
  let egress = 0;
  if (global.gc) global.gc();
  const cpu0 = process.cpuUsage();
  const { seconds, peakRssBytes } = await withPeakRss(() =>
    replayLines(createReadStream(path, { highWaterMark: 256 * 1024 }), newDecoder(), {
      sourceId: name,
      metrics,
      logger: silentLogger(),
      out: {
        push: async (batch) => {
          records += batch.length;
          if (enrich) for (let i = 0; i < batch.length; i++) if (enricher.enrich(batch[i]!)) egress++;
        },
      },
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes, records, egress };
}

/** Best of a few runs: the machine is shared, the best run is the least disturbed one. */
async function measure(name: string, path: string, lines: number, newDecoder: () => LineDecoder, enrich: boolean, runs = RUNS): Promise<void> {
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) all.push(await runOnce(name, path, newDecoder, enrich));
  const best = all.reduce((a, b) => (b.cpuSeconds < a.cpuSeconds ? b : a));
  const fastest = Math.min(...all.map((r) => r.seconds));
  const peak = Math.max(...all.map((r) => r.peakRssBytes));
  const bytes = statSync(path).size;
  const what = enrich ? 'parse_enrich' : 'parse_only';
  const note = `${lines} lines, ${best.records} records${enrich ? `, ${best.egress} egress` : ''}, ${(bytes / MB).toFixed(0)} MiB, best of ${runs}`;
  report({ bench: BENCH, metric: `${name}_${what}_lines_per_s`, value: Math.round(lines / fastest), unit: 'lines/s', note });
  // Lines per CPU second (all threads of the process, GC included) does not depend on the load.
  report({ bench: BENCH, metric: `${name}_${what}_lines_per_cpu_s`, value: Math.round(lines / best.cpuSeconds), unit: 'lines/cpu-s' });
  report({ bench: BENCH, metric: `${name}_${what}_mib_per_s`, value: Number((bytes / MB / fastest).toFixed(1)), unit: 'MiB/s' });
  report({ bench: BENCH, metric: `${name}_${what}_peak_rss_mb`, value: Math.round(peak / MB), unit: 'MB' });
}

/** Run a reference tool under bash and read its CPU time back from `times`. */
function reference(name: string, path: string, lines: number, tool: string, script: string): void {
  if (!which(tool) || !which('bash')) {
    report({ bench: BENCH, metric: `${name}_${tool}_lines_per_s`, value: 0, note: `${tool} not installed` });
    return;
  }
  const start = process.hrtime.bigint();
  const result = spawnSync('bash', ['-c', `${script} "$1" >/dev/null; times`, 'bench', path], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${tool} failed: ${result.stderr}`);
  // Second line of `times`: user and system time of the children, e.g. `0m1.234s 0m0.100s`.
  const children = result.stdout.trim().split('\n').at(-1) ?? '';
  const cpuSeconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
  report({ bench: BENCH, metric: `${name}_${tool}_lines_per_s`, value: Math.round(lines / seconds), unit: 'lines/s', note: script });
  if (cpuSeconds > 0) report({ bench: BENCH, metric: `${name}_${tool}_lines_per_cpu_s`, value: Math.round(lines / cpuSeconds), unit: 'lines/cpu-s' });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'egressd-bench-flowlogs-'));
  try {
    const vpc = join(dir, 'vpc.log');
    const zeek = join(dir, 'conn.log');
    writeLines(vpc, VPC_LINES, '', vpcLine);
    writeLines(zeek, ZEEK_LINES, ZEEK_HEADER, zeekLine);

    reference('vpc', vpc, VPC_LINES, 'wc', 'wc -l');
    reference('vpc', vpc, VPC_LINES, 'awk', "awk '{ s += $10 } END { print s }'");
    await measure('vpc', vpc, VPC_LINES, () => createVpcDecoder('bench'), false);
    await measure('vpc', vpc, VPC_LINES, () => createVpcDecoder('bench'), true);

    reference('zeek', zeek, ZEEK_LINES, 'awk', "awk -F '\\t' '{ s += $11 } END { print s }'");
    await measure('zeek', zeek, ZEEK_LINES, () => createZeekDecoder('bench'), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
