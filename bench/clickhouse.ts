// ClickHouse sink benchmark: per-minute flow aggregates and incident changes into a real local
// clickhouse-server, with the sink's own CPU share. Reference in the same run: the server's
// own client (`clickhouse-client`) inserting the same rows over its native protocol.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { ClientRunner, connect } from '../src/sinks/clickhouse/client.js';
import { clickhouseSchema } from '../src/sinks/clickhouse/config.js';
import { createClickhouseSink } from '../src/sinks/clickhouse/index.js';
import { clickhouseMetrics } from '../src/sinks/clickhouse/metrics.js';
import { DeadLetter, Spool } from '../src/sinks/clickhouse/spool.js';
import { BatchWriter } from '../src/sinks/clickhouse/writer.js';
import type { FlowRecord } from '../src/record.js';
import type { SinkEntry } from '../src/sinks/types.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { startClickhouseServer } from '../test/integration/clickhouse/server.js';
import { tempDir, which } from '../test/support/env.js';
import { MB, report, withPeakRss } from './harness.js';

const BENCH = 'clickhouse';
const RECORDS = Number(process.env.BENCH_CH_RECORDS ?? 1_000_000);
const HOSTS = 200;
const REMOTES = 50;
const MINUTES = 10;
const BATCH = 1000;
const INCIDENT_CHANGES = 20_000;

/** Record batches generated on the fly, so the sink's memory is what peak RSS shows. */
function* recordBatches(): Generator<FlowRecord[]> {
  let seed = 12345;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const start = Date.UTC(2026, 5, 11, 9);
  const hosts = Array.from({ length: HOSTS }, (_, i) => `10.${20 + (i >> 8)}.${i & 255}.7`);
  const remotes = Array.from({ length: REMOTES }, (_, i) => `198.51.${i >> 8}.${i & 255}`);
  for (let b = 0; b < RECORDS / BATCH; b++) {
    const batch: FlowRecord[] = [];
    for (let i = 0; i < BATCH; i++) {
      const host = hosts[Math.floor(random() * HOSTS)]!;
      const remote = remotes[Math.floor(random() * REMOTES)]!;
      // time advances through the run, as on a live gateway
      const ts = start + Math.floor(((b + random()) / (RECORDS / BATCH)) * MINUTES * 60_000);
      batch.push({
        ts,
        tsEnd: ts + 500,
        src: host,
        srcPort: 40000,
        dst: remote,
        dstPort: 443,
        proto: 6,
        bytesOut: 1000,
        bytesIn: Math.floor(random() * 1e6),
        packetsOut: 3,
        packetsIn: 20,
        host,
        remote: { ip: remote, port: 443 },
        source: { type: 'netflow', id: 'bench' },
        approval: null,
      });
    }
    yield batch;
  }
}

function incidentEntries(): SinkEntry[] {
  const out: SinkEntry[] = [];
  for (let i = 0; i < INCIDENT_CHANGES; i++) {
    out.push({
      type: 'incident',
      change: {
        change: 'updated',
        incident: {
          id: `bench-${i % 2000}`,
          kind: 'bulk_acquisition',
          status: 'open',
          hosts: [`10.1.${(i % 2000) >> 8}.${i & 255}`],
          first_seen: '2026-06-11T09:00:00.000Z',
          last_seen: new Date(Date.UTC(2026, 5, 11, 9) + i * 1000).toISOString(),
          score: 70,
          severity: 'high',
          approved_source: null,
          evidence: { bytes_in: i * 1000, bytes_out: 0, peers: 12, info_hashes: [], remotes: ['198.51.100.1'], signals: [{ name: 'volume', value: 5, threshold: 3, weight: 0.4 }] },
          rule: 'bulk.volume@1',
          version: Math.floor(i / 2000) + 1,
        },
      },
    });
  }
  return out;
}

async function main(): Promise<void> {
  const server = await startClickhouseServer();
  if (!server) {
    report({ bench: BENCH, metric: 'skipped', value: 0, note: 'clickhouse-server not installed' });
    return;
  }
  const state = tempDir('egressd-bench-ch-');
  try {
    const config = clickhouseSchema.parse({
      url: server.url,
      database: 'egressd_bench',
      gateway: 'bench',
      batch: { max_rows: 20_000, max_bytes: '8MiB', max_age: '1s', max_pending: 4 },
      flows: { flush_interval: '1h', max_keys: 200_000 },
      heartbeat_interval: 0,
      retention: { check_interval: 0 },
    });
    const registry = new Registry();
    const sink = createClickhouseSink(config, { logger: silentLogger(), registry, stateDir: state.path, onFatal: () => undefined, audit: () => undefined });
    await sink.start();

    // Flow aggregates: observeRecords on the hot path, then flush, until the rows are in.
    // Flushed once per simulated minute (as the flush timer would), then at the end.
    let observeMicros = 0;
    let flushMicros = 0;
    const cpuStart = process.cpuUsage();
    const batchesPerMinute = RECORDS / BATCH / MINUTES;
    const { seconds, peakRssBytes } = await withPeakRss(async () => {
      let n = 0;
      const pending: Promise<void>[] = [];
      for (const batch of recordBatches()) {
        const before = process.cpuUsage();
        sink.observeRecords(batch);
        const used = process.cpuUsage(before);
        observeMicros += used.user + used.system;
        if (++n % batchesPerMinute === 0) {
          const f0 = process.cpuUsage();
          pending.push(sink.flush());
          const f1 = process.cpuUsage(f0);
          flushMicros += f1.user + f1.system;
          // let the inserts run, as the event loop would between socket reads
          await new Promise((r) => setImmediate(r));
        }
      }
      const before = process.cpuUsage();
      pending.push(sink.flush());
      const used = process.cpuUsage(before);
      flushMicros += used.user + used.system;
      await Promise.all(pending);
      await sink.drained(600_000);
    });
    const sinkCpuMicros = observeMicros + flushMicros;
    const processCpu = process.cpuUsage(cpuStart);
    const rows = Number((await server.query('SELECT count() FROM egressd_bench.flows_1m')).trim());
    const recordsIn = Number((await server.query('SELECT sum(records) FROM egressd_bench.flows_1m')).trim());
    if (recordsIn !== RECORDS) throw new Error(`flow records in ClickHouse ${recordsIn} != ${RECORDS}`);
    report({ bench: BENCH, metric: 'flow_records_per_s', value: Math.round(RECORDS / seconds), unit: 'records/s', note: `${RECORDS} records → ${rows} per-minute aggregate rows, end to end incl. generating the records` });
    report({ bench: BENCH, metric: 'flow_rows_per_s', value: Math.round(rows / seconds), unit: 'rows/s', note: 'aggregate rows inserted (batches of up to 20000, one insert in flight per table)' });
    report({ bench: BENCH, metric: 'sink_sync_cpu_share', value: Number((sinkCpuMicros / 1e6 / seconds).toFixed(4)), note: 'CPU in observeRecords+flush calls / wall time' });
    report({ bench: BENCH, metric: 'process_cpu_share', value: Number(((processCpu.user + processCpu.system) / 1e6 / seconds).toFixed(4)), note: 'whole process incl. serialization and HTTP, / wall time' });
    report({ bench: BENCH, metric: 'observe_ns_per_record', value: Math.round((observeMicros * 1000) / RECORDS), unit: 'ns', note: 'observeRecords CPU per record (hot path)' });
    report({ bench: BENCH, metric: 'flush_us_per_row', value: Number((flushMicros / rows).toFixed(2)), unit: 'us', note: 'drain + JSON serialization per aggregate row' });
    report({ bench: BENCH, metric: 'peak_rss_mb', value: Math.round(peakRssBytes / MB), unit: 'MB' });

    // Incident changes through write(): two tables per change, acknowledged per call.
    const entries = incidentEntries();
    const started = process.hrtime.bigint();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < entries.length; i += 100) writes.push(sink.write(entries.slice(i, i + 100)));
    await Promise.all(writes);
    await sink.flush();
    const incidentSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    report({ bench: BENCH, metric: 'incident_changes_per_s', value: Math.round(INCIDENT_CHANGES / incidentSeconds), unit: 'changes/s', note: 'write() in chunks of 100, incidents + incident_changes tables' });
    await sink.stop();

    // Insert throughput on the same aggregate rows: the sink's writer (HTTP, JSONEachRow,
    // batches of max_rows, one insert in flight) vs clickhouse-client (native protocol).
    const dump = await server.query(
      'SELECT minute, host, remote_ip, remote_name, approved_source, bytes_in, bytes_out, packets_in, packets_out, records, batch_token, gateway FROM egressd_bench.flows_1m FORMAT JSONEachRow',
    );
    const lines = dump.split('\n').filter((l) => l);
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const runner = new ClientRunner(connect(config), config.database);
    const spool = new Spool(join(state.path, 'writer-spool'), 1e10, { corrupt: () => undefined, dropped: () => undefined, size: () => undefined });
    await spool.open();
    const writer = new BatchWriter(
      { maxRows: 20_000, maxBytes: 8 * MB, maxAgeMs: 1000, maxPending: 8, retryMinMs: 100, retryMaxMs: 1000, tokenColumn: { flows_1m_input: 'batch_token' } },
      { inserter: runner, spool, deadLetter: new DeadLetter(join(state.path, 'dead')), metrics: clickhouseMetrics(new Registry()), logger: silentLogger() },
    );
    const w0 = process.hrtime.bigint();
    await writer.add('flows_1m_input', objects);
    await writer.flush();
    const writerSeconds = Number(process.hrtime.bigint() - w0) / 1e9;
    await writer.stop();
    await runner.close();
    if (spool.batches !== 0) throw new Error('writer left batches in the spool');
    report({ bench: BENCH, metric: 'writer_rows_per_s', value: Math.round(lines.length / writerSeconds), unit: 'rows/s', note: `${lines.length} aggregate rows, batches of 20000 over HTTP` });

    const client = which('clickhouse-client');
    if (client) {
      const t0 = process.hrtime.bigint();
      const result = spawnSync(client, ['--host', '127.0.0.1', '--port', String(server.tcpPort), '--query', 'INSERT INTO egressd_bench.flows_1m_input FORMAT JSONEachRow'], {
        input: dump,
        maxBuffer: 64 * MB,
      });
      const refSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (result.status !== 0) throw new Error(`clickhouse-client failed: ${result.stderr.toString()}`);
      report({ bench: BENCH, metric: 'reference_clickhouse_client_rows_per_s', value: Math.round(lines.length / refSeconds), unit: 'rows/s', note: 'same rows, one native-protocol insert' });
      report({ bench: BENCH, metric: 'writer_ratio_vs_clickhouse_client', value: Number((refSeconds / writerSeconds).toFixed(3)) });
    } else {
      report({ bench: BENCH, metric: 'reference_skipped', value: 0, note: 'clickhouse-client not installed' });
    }
  } finally {
    await server.stop();
    server.remove();
    state.remove();
  }
}

await main();
