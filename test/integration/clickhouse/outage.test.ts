import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaTarget } from '../../../src/sinks/clickhouse/client.js';
import { createClickhouseSink } from '../../../src/sinks/clickhouse/index.js';
import { hostTotalsSql } from '../../../src/sinks/clickhouse/schema.js';
import { REPO_ROOT, requireTool, tempDir, waitFor } from '../../support/env.js';
import { flowCorpus, incidentCorpus } from './corpus.js';
import { deps, rows, scalar, sinkConfig, spoolDir } from './helpers.js';
import { startClickhouseServer, type ClickhouseServer } from './server.js';

// ClickHouse goes away mid-stream: writes keep resolving (spooled to disk), and once the server
// is back every row arrives exactly once. The same after a SIGKILL of the writing process.

const installed = requireTool('clickhouse-server') !== undefined;
let server: ClickhouseServer | undefined;
const state = tempDir('egressd-ch-outage-');

beforeAll(async () => {
  if (!installed) return;
  server = await startClickhouseServer();
});

afterAll(async () => {
  await server?.stop();
  server?.remove();
  state.remove();
});

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  return (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

describe.skipIf(!installed)('clickhouse outage', () => {
  it('spools while the server is down and replays every row exactly once', async () => {
    const config = sinkConfig(server!, { database: 'egressd_outage', request_timeout: '5s', batch: { max_rows: 40, max_age: '50ms' } });
    const registry = new Registry();
    const stateDir = join(state.path, 'outage');
    const sink = createClickhouseSink(config, deps(stateDir, registry));
    await sink.start();
    const corpus = incidentCorpus(150, 11, 'out');
    const flows = flowCorpus({ hosts: 6, remotes: 25, minutes: 20, records: 9_000, batchSize: 100, seed: 5 });
    const chunks = Math.max(corpus.entries.length, flows.batches.length);
    const perChunk = Math.ceil(corpus.entries.length / flows.batches.length);
    let stoppedAt = -1;
    let restartedAt = -1;
    for (let i = 0; i < chunks; i++) {
      if (i === Math.floor(flows.batches.length / 3)) {
        await sink.flush();
        await server!.stop();
        stoppedAt = i;
      }
      if (i === Math.floor((2 * flows.batches.length) / 3)) {
        expect(sink.spoolBatches()).toBeGreaterThan(0);
        await server!.start();
        restartedAt = i;
      }
      const slice = corpus.entries.slice(i * perChunk, (i + 1) * perChunk);
      const batch = flows.batches[i];
      if (batch) sink.observeRecords(batch);
      if (slice.length) await sink.write(slice);
      if (i % 5 === 0) await sink.flush();
    }
    expect(stoppedAt).toBeGreaterThan(0);
    expect(restartedAt).toBeGreaterThan(stoppedAt);
    await sink.flush();
    await sink.drained(60_000);
    await sink.stop();

    expect(await metricValue(registry, 'egressd_clickhouse_rows_total', { result: 'spooled' })).toBeGreaterThan(0);
    expect(await metricValue(registry, 'egressd_clickhouse_rows_total', { result: 'replayed' })).toBeGreaterThan(0);
    expect(readdirSync(spoolDir(stateDir)).filter((n) => n.endsWith('.batch'))).toEqual([]);

    expect(await scalar(server!, 'SELECT count() FROM egressd_outage.incident_changes FINAL')).toBe(corpus.changes);
    expect(await scalar(server!, 'SELECT uniqExact(id, version) FROM egressd_outage.incident_changes')).toBe(corpus.changes);
    expect(await scalar(server!, 'SELECT count() FROM egressd_outage.incidents FINAL')).toBe(corpus.latest.size);
    expect(await scalar(server!, 'SELECT count() FROM egressd_outage.triage_events FINAL')).toBe(corpus.triage);
    const totals = await rows<Record<string, string>>(server!, hostTotalsSql(schemaTarget(config), 0, 4_000_000_000));
    expect(totals).toHaveLength(flows.perHost.size);
    for (const t of totals) {
      const sent = flows.perHost.get(t.host!)!;
      expect([t.bytes_in, t.bytes_out, t.packets_in, t.records].map(Number)).toEqual([sent.bytesIn, sent.bytesOut, sent.packetsIn, sent.records]);
    }
  });

  it('survives a SIGKILL of the writing process while spooling', async () => {
    const distIndex = join(REPO_ROOT, 'dist', 'src', 'sinks', 'clickhouse', 'index.js');
    // `npm test` builds first; rebuilding here would rewrite dist/ under suites running beside us.
    if (!existsSync(distIndex)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'ignore' });
    expect(existsSync(distIndex)).toBe(true);

    const config = sinkConfig(server!, { database: 'egressd_kill', request_timeout: '3s', batch: { max_rows: 7, max_age: '20ms' } });
    const stateDir = join(state.path, 'kill');
    await server!.stop();

    // The child writes incident changes and prints an ack once each write resolved (spooled).
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        const { createClickhouseSink } = await import(${JSON.stringify(distIndex)});
        const { silentLogger } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'src', 'telemetry', 'logger.js'))});
        const { Registry } = await import('prom-client');
        const config = JSON.parse(process.env.SINK_CONFIG);
        const sink = createClickhouseSink(config, { logger: silentLogger(), registry: new Registry(), stateDir: process.env.STATE_DIR, onFatal: () => {}, audit: () => {} });
        await sink.start();
        const incident = (i) => ({ id: 'kill-' + (i % 40), kind: 'swarm', status: 'open', hosts: ['10.0.0.' + (i % 40)],
          first_seen: '2026-06-11T09:00:00.000Z', last_seen: new Date(Date.UTC(2026, 5, 11, 9) + i * 1000).toISOString(),
          score: 50, severity: 'medium', approved_source: null,
          evidence: { bytes_in: i, bytes_out: 0, peers: 1, info_hashes: [], remotes: [], signals: [] }, rule: 'r@1', version: Math.floor(i / 40) + 1 });
        for (let i = 0; ; i++) {
          await sink.write([{ type: 'incident', change: { change: 'updated', incident: incident(i) } }]);
          process.stdout.write('ack ' + i + '\\n');
        }
        `,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, SINK_CONFIG: JSON.stringify(config), STATE_DIR: stateDir }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const acked = () => out.split('\n').filter((l) => l.startsWith('ack ')).length;
    await waitFor(() => acked() >= 100 || child.exitCode !== null, 60_000, 'child acks');
    expect(child.exitCode, err).toBeNull();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const ackedCount = acked();
    const spooled = readdirSync(spoolDir(stateDir)).filter((n) => n.endsWith('.batch')).length;
    expect(spooled).toBeGreaterThan(0);

    // A new process (here: this one) starts with the same state directory and replays.
    await server!.start();
    const sink = createClickhouseSink(config, deps(stateDir));
    await sink.start();
    await sink.drained(60_000);
    await sink.stop();
    expect(readdirSync(spoolDir(stateDir)).filter((n) => n.endsWith('.batch') || n.endsWith('.tmp'))).toEqual([]);

    const present = await rows<{ id: string; version: string }>(server!, 'SELECT id, version FROM egressd_kill.incident_changes FINAL ORDER BY version, id');
    const keys = new Set(present.map((r) => `${r.id}@${r.version}`));
    expect(keys.size).toBe(present.length);
    for (let i = 0; i < ackedCount; i++) expect(keys.has(`kill-${i % 40}@${Math.floor(i / 40) + 1}`), `ack ${i}`).toBe(true);
    // at most the write in flight at the kill was spooled without its ack being printed
    expect(present.length).toBeLessThanOrEqual(ackedCount + 1);
    // the current state is the highest version of each incident that arrived
    expect(await scalar(server!, 'SELECT count() FROM egressd_kill.incidents FINAL')).toBe(Math.min(40, present.length));
  });
});
