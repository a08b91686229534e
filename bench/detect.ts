// Detection benchmark: a simulated day of egress from 50,000 internal hosts to 2,000,000
// distinct remotes, through the Enricher and the detection engine (features, sketches,
// scoring, incidents), batches of 1,000 records with advance() after each, one core.
// Reference in the same run: awk over the same records written as TSV, keeping per-host bytes
// and the exact set of (host, remote) pairs — the naive exact aggregation detection replaces.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { detectSchema, detectionRulesSchema } from '../src/detect/config.js';
import { createDetectionEngine } from '../src/detect/index.js';
import { Enricher, approvedSourcesSchema, networksSchema } from '../src/enrich/index.js';
import type { FlowRecord } from '../src/record.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { which } from '../test/support/env.js';
import { MB, report, withPeakRss } from './harness.js';

const BENCH = 'detect';
const HOSTS = Number(process.env.EGRESSD_BENCH_HOSTS ?? 50_000);
const REMOTES = Number(process.env.EGRESSD_BENCH_REMOTES ?? 2_000_000);
const RECORDS = Number(process.env.EGRESSD_BENCH_RECORDS ?? 4_000_000);
const DAY = Date.UTC(2026, 5, 11);
const BATCH = 1_000;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

const hostText = (i: number) => `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
const remoteText = (i: number) => `${100 + ((i >>> 16) & 63)}.${(i >>> 8) & 255}.${i & 255}.${1 + (i % 250)}`;

/**
 * The day as raw (un-enriched) records, generated on the fly in event-time order. Every remote
 * appears at least once (the first REMOTES records walk a permutation), then at random; a few
 * hosts run BitTorrent or bulk pulls so the incident path is exercised too.
 */
function* day(): Generator<FlowRecord> {
  const r = rng(7);
  const step = (24 * 3_600_000) / RECORDS;
  for (let k = 0; k < RECORDS; k++) {
    const host = r() % HOSTS;
    const remote = k < REMOTES ? (k * 1_000_003) % REMOTES : r() % REMOTES;
    const ts = DAY + Math.floor(k * step);
    const special = host % 5_000;
    const rec: FlowRecord = {
      ts,
      tsEnd: ts + (r() % 30_000),
      src: hostText(host),
      srcPort: 40_000 + (r() % 20_000),
      dst: remoteText(remote),
      dstPort: special === 1 ? 10_000 + (r() % 50_000) : 443,
      proto: 6,
      bytesOut: 800 + (r() % 4_000),
      bytesIn: special === 2 ? 4 * MB : 2_000 + (r() % 200_000),
      packetsOut: 6,
      packetsIn: 10,
      source: { type: 'zeek', id: 'bench' },
    };
    if (special === 1) rec.app = { name: 'bittorrent', via: 'handshake', infoHash: 'dcfcdccfb9e670ccc3dd40c78c161f2bea243126' };
    yield rec;
  }
}

function enricher(): Enricher {
  const networks = networksSchema.parse({ internal: ['10.0.0.0/8'] });
  const approved = approvedSourcesSchema.parse({
    sources: Array.from({ length: 20 }, (_, i) => ({ name: `approved-${i}`, owner: 'it', match: { cidrs: [`${100 + i}.${i}.0.0/16`] } })),
  });
  return new Enricher(networks, approved);
}

function newEngine(stateDir: string) {
  return createDetectionEngine({
    config: detectSchema.parse({}),
    rules: detectionRulesSchema.parse({}),
    logger: silentLogger(),
    registry: new Registry(),
    stateDir,
  });
}

async function runDetection(): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'egressd-bench-detect-state-'));
  const engine = newEngine(stateDir);
  const enrich = enricher();
  let changes = 0;
  let egress = 0;
  const cpuBefore = process.cpuUsage();
  const { seconds, peakRssBytes } = await withPeakRss(() => {
    let n = 0;
    let maxTs = 0;
    for (const rec of day()) {
      if (enrich.enrich(rec)) {
        engine.observe(rec);
        egress++;
      }
      if (rec.ts > maxTs) maxTs = rec.ts;
      if (++n % BATCH === 0) changes += engine.advance(maxTs).length;
    }
    changes += engine.advance(maxTs).length;
    changes += engine.flush().length;
  });
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  // Live state after a full collection: what the day's detection state really holds.
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const generateSeconds = timeGenerator();
  const note = `${HOSTS} hosts, ${REMOTES} remotes, ${RECORDS} records over 24 h event time`;
  report({ bench: BENCH, metric: 'enrich_detect_records_per_s', value: Math.round(RECORDS / seconds), unit: 'records/s', note });
  report({ bench: BENCH, metric: 'enrich_detect_records_per_s_net_of_generator', value: Math.round(RECORDS / Math.max(1e-9, seconds - generateSeconds)), unit: 'records/s' });
  // On a shared host wall time follows the neighbours' load; CPU time (all threads, GC included) much less.
  report({ bench: BENCH, metric: 'enrich_detect_records_per_cpu_s', value: Math.round(RECORDS / cpuSeconds), unit: 'records/s', note: `per CPU second user+sys (${cpuSeconds.toFixed(1)} CPU-s, generator included)` });
  report({ bench: BENCH, metric: 'peak_rss_mb', value: Math.round(peakRssBytes / MB), unit: 'MB', note: 'target < 512 MB' });
  report({ bench: BENCH, metric: 'live_heap_mb', value: Math.round((memory.heapUsed + memory.external) / MB), unit: 'MB', note: 'heap used + external after gc, engine still referenced' });
  report({ bench: BENCH, metric: 'tracked_hosts', value: engine.trackedHosts });
  report({ bench: BENCH, metric: 'state_estimate_mb', value: Math.round(engine.estimateStateBytes() / MB), unit: 'MB' });
  report({ bench: BENCH, metric: 'incident_changes', value: changes, note: `${egress} egress records` });

  // Restart cost: the snapshot of the whole day's state, written and read back.
  try {
    let started = process.hrtime.bigint();
    await engine.save();
    const saveSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const size = statSync(join(stateDir, 'detect', 'snapshot.json')).size;
    const restored = newEngine(stateDir);
    started = process.hrtime.bigint();
    await restored.open();
    const openSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    report({ bench: BENCH, metric: 'snapshot_mb', value: Math.round(size / MB), unit: 'MB', note: `${restored.trackedHosts} hosts restored` });
    report({ bench: BENCH, metric: 'snapshot_save_s', value: Number(saveSeconds.toFixed(2)), unit: 's' });
    report({ bench: BENCH, metric: 'snapshot_restore_s', value: Number(openSeconds.toFixed(2)), unit: 's' });
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function timeGenerator(): number {
  const start = process.hrtime.bigint();
  let sink = 0;
  for (const rec of day()) sink += rec.bytesIn;
  if (sink < 0) throw new Error('unreachable');
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function runReference(): void {
  const awk = which('awk');
  if (!awk) {
    report({ bench: BENCH, metric: 'awk_exact_records_per_s', value: 0, note: 'awk not installed' });
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'egressd-bench-detect-'));
  try {
    const path = join(dir, 'day.tsv');
    const fd = openSync(path, 'w');
    const lines: string[] = [];
    for (const rec of day()) {
      lines.push(`${rec.src}\t${rec.dst}\t${rec.bytesIn}\n`);
      if (lines.length === 10_000) {
        writeSync(fd, lines.join(''));
        lines.length = 0;
      }
    }
    writeSync(fd, lines.join(''));
    closeSync(fd);
    const program = '{ bytes[$1] += $3; if (!(($1 SUBSEP $2) in pair)) { pair[$1, $2] = 1; pairs++ } } END { print pairs }';
    const start = process.hrtime.bigint();
    const result = spawnSync(awk, ['-F', '\t', program, path], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    report({ bench: BENCH, metric: 'awk_exact_records_per_s', value: Math.round(RECORDS / seconds), unit: 'records/s', note: `exact per-host distinct pairs: ${result.stdout.trim()} (unbounded memory)` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await runDetection();
runReference();
