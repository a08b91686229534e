import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientRunner, connect, schemaTarget } from '../../../src/sinks/clickhouse/client.js';
import { applySchema, createClickhouseSink, type ClickhouseSink } from '../../../src/sinks/clickhouse/index.js';
import { clickhouseMetrics } from '../../../src/sinks/clickhouse/metrics.js';
import { applyRetention } from '../../../src/sinks/clickhouse/retention.js';
import { currentIncidentsSql, hostPeersSql, hostTotalsSql, sharedRemoteSql, swarmByInfoHashSql } from '../../../src/sinks/clickhouse/schema.js';
import { DeadLetter, Spool } from '../../../src/sinks/clickhouse/spool.js';
import { BatchWriter } from '../../../src/sinks/clickhouse/writer.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { requireTool, tempDir } from '../../support/env.js';
import { flowCorpus, incident, incidentCorpus } from './corpus.js';
import { deps, rows, scalar, sinkConfig } from './helpers.js';
import { startClickhouseServer, type ClickhouseServer } from './server.js';

// The sink against a real clickhouse-server: schema, batching, exact totals, idempotent
// replays, dead letters, retention, cross-gateway correlation SQL.

const installed = requireTool('clickhouse-server') !== undefined;
let server: ClickhouseServer | undefined;
const state = tempDir('egressd-ch-state-');
const secretFile = join(state.path, 'password');

beforeAll(async () => {
  if (!installed) return;
  server = await startClickhouseServer({ users: { egressd: 's3cret' } });
  writeFileSync(secretFile, 's3cret\n');
});

afterAll(async () => {
  await server?.stop();
  server?.remove();
  state.remove();
});

describe.skipIf(!installed)('clickhouse sink on a real server', () => {
  const incidents = incidentCorpus(120, 3);
  const flows = flowCorpus({ hosts: 12, remotes: 40, minutes: 30, records: 20_000, batchSize: 500 });
  let sink: ClickhouseSink;

  it('applies the schema at start and records the migration once', async () => {
    const config = sinkConfig(server!, {
      user: 'egressd',
      password_file: secretFile,
      compression: { request: true, response: true },
      batch: { max_rows: 1000, max_age: '100ms' },
    });
    sink = createClickhouseSink(config, deps(join(state.path, 'a')));
    await sink.start();
    const migrations = await rows<{ version: number; gateway: string }>(server!, 'SELECT version, gateway FROM egressd_test.schema_migrations');
    expect(migrations).toEqual([{ version: 1, gateway: 'gw-a' }]);
    const again = await applySchema(config, silentLogger());
    expect(again).toEqual({ applied: [], skipped: [1] });
    expect(await scalar(server!, 'SELECT count() FROM egressd_test.schema_migrations')).toBe(1);
    const tables = (await server!.query("SELECT name FROM system.tables WHERE database = 'egressd_test' ORDER BY name")).trim().split('\n');
    expect(tables).toEqual(['flows_1m', 'flows_1m_input', 'flows_1m_mv', 'heartbeats', 'incident_changes', 'incidents', 'schema_migrations', 'triage_events']);
  });

  it('stores a replayed corpus with exact counts and totals', async () => {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < incidents.entries.length; i += 7) writes.push(sink.write(incidents.entries.slice(i, i + 7)));
    for (const batch of flows.batches) sink.observeRecords(batch);
    await Promise.all(writes);
    await sink.flush();
    await sink.drained();

    const current = await rows<{ id: string; latest_version: string; status: string; bytes_in: string }>(server!, currentIncidentsSql(schemaTarget(sinkConfig(server!))));
    expect(current).toHaveLength(incidents.latest.size);
    for (const row of current) {
      const sent = incidents.latest.get(row.id)!;
      expect([Number(row.latest_version), row.status, Number(row.bytes_in)]).toEqual([sent.version, sent.status, sent.bytesIn]);
    }
    expect(await scalar(server!, 'SELECT count() FROM egressd_test.incident_changes FINAL')).toBe(incidents.changes);
    expect(await scalar(server!, 'SELECT uniqExact(id, version) FROM egressd_test.incident_changes')).toBe(incidents.changes);
    expect(await scalar(server!, 'SELECT count() FROM egressd_test.triage_events FINAL')).toBe(incidents.triage);

    const totals = await rows<Record<string, string>>(server!, hostTotalsSql(schemaTarget(sinkConfig(server!)), 0, 4_000_000_000));
    expect(totals).toHaveLength(flows.perHost.size);
    let records = 0;
    for (const t of totals) {
      const sent = flows.perHost.get(t.host!)!;
      expect([t.bytes_in, t.bytes_out, t.packets_in, t.packets_out, t.records, t.peers].map(Number)).toEqual([
        sent.bytesIn,
        sent.bytesOut,
        sent.packetsIn,
        sent.packetsOut,
        sent.records,
        sent.peers.size,
      ]);
      records += Number(t.records);
    }
    expect(records).toBe(flows.records);
    // the aggregate state merges to the same distinct peer counts (uniq is exact at this size)
    const peers = await rows<{ host: string; peers: string }>(server!, hostPeersSql(schemaTarget(sinkConfig(server!))));
    for (const p of peers) expect(Number(p.peers)).toBe(flows.perHost.get(p.host)!.peers.size);
    // more than one batch per table: batching by size happened
    expect(await scalar(server!, 'SELECT uniqExact(batch_token) FROM egressd_test.flows_1m')).toBeGreaterThan(1);
  });

  it('does not double anything when the same batches are inserted again', async () => {
    const runner = new ClientRunner(connect(sinkConfig(server!)), 'egressd_test');
    const target = schemaTarget(sinkConfig(server!));
    try {
      const before = await rows(server!, hostTotalsSql(target, 0, 4_000_000_000));
      const rawFlows = await scalar(server!, 'SELECT count() FROM egressd_test.flows_1m');
      // re-insert every flows batch exactly as stored (same batch tokens): what a spool replay does
      const stored = await server!.query(
        'SELECT minute, host, remote_ip, remote_name, approved_source, bytes_in, bytes_out, packets_in, packets_out, records, batch_token, gateway FROM egressd_test.flows_1m FORMAT JSONEachRow',
      );
      await runner.insert('flows_1m_input', stored);
      expect(await scalar(server!, 'SELECT count() FROM egressd_test.flows_1m')).toBe(rawFlows * 2);
      expect(await rows(server!, hostTotalsSql(target, 0, 4_000_000_000))).toEqual(before);
      expect(await scalar(server!, 'SELECT count() FROM egressd_test.flows_1m FINAL')).toBe(rawFlows);
      expect(await rows(server!, hostTotalsSql(target, 0, 4_000_000_000))).toEqual(before);

      const incidentsBefore = await rows(server!, currentIncidentsSql(target));
      const storedIncidents = await server!.query('SELECT * FROM egressd_test.incidents FORMAT JSONEachRow');
      await runner.insert('incidents', storedIncidents);
      expect(await rows(server!, currentIncidentsSql(target))).toEqual(incidentsBefore);
      expect(await scalar(server!, 'SELECT count() FROM egressd_test.incidents FINAL')).toBe(incidents.latest.size);
    } finally {
      await runner.close();
    }
  });

  it('writes rows the server rejects to the dead-letter file, counted, and resolves', async () => {
    const stateDir = join(state.path, 'dead');
    const registry = new Registry();
    const metrics = clickhouseMetrics(registry);
    const runner = new ClientRunner(connect(sinkConfig(server!)), 'egressd_test');
    const spool = new Spool(join(stateDir, 'clickhouse-spool'), 1e9, { corrupt: () => undefined, dropped: () => undefined, size: () => undefined });
    await spool.open();
    const writer = new BatchWriter(
      { maxRows: 10, maxBytes: 1e6, maxAgeMs: 50, maxPending: 2, retryMinMs: 100, retryMaxMs: 200 },
      { inserter: runner, spool, deadLetter: new DeadLetter(join(stateDir, 'clickhouse-dead-letter')), metrics, logger: silentLogger() },
    );
    await writer.add('triage_events', [{ at: 'not a time', incident_id: 'x', actor: 'a', verdict: 'v', note: '', event: '{}', event_key: 'k', gateway: 'g' }]);
    await writer.stop();
    await runner.close();
    const dead = readFileSync(join(stateDir, 'clickhouse-dead-letter', 'triage_events.ndjson'), 'utf8').trim().split('\n');
    expect(dead).toHaveLength(1);
    const line = JSON.parse(dead[0]!) as { table: string; error: string; row: { at: string } };
    expect(line.table).toBe('triage_events');
    expect(line.row.at).toBe('not a time');
    expect(line.error).toMatch(/Code: \d+/);
    const counted = (await registry.getSingleMetric('egressd_clickhouse_rows_total')!.get()).values.find((v) => v.labels.result === 'dead_letter');
    expect(counted?.value).toBe(1);
    expect(spool.batches).toBe(0);
  });

  it('correlates hosts across gateways with the swarm SQL', async () => {
    const other = createClickhouseSink(sinkConfig(server!, { gateway: 'gw-b' }), deps(join(state.path, 'b')));
    await other.start();
    const hash = 'ab'.repeat(20);
    await sink.write([{ type: 'incident', change: { change: 'opened', incident: incident('swarm-a', 1, 'open', ['10.1.0.1'], hash, 1, 5e6) } }]);
    await other.write([{ type: 'incident', change: { change: 'opened', incident: incident('swarm-b', 1, 'open', ['10.9.0.2'], hash, 2, 7e6) } }]);
    // both gateways see the same unapproved remote
    const rec = (host: string, bytesIn: number) => ({
      ts: Date.UTC(2026, 5, 11, 9, 5),
      tsEnd: Date.UTC(2026, 5, 11, 9, 6),
      src: host,
      srcPort: 5000,
      dst: '192.0.2.99',
      dstPort: 443,
      proto: 6,
      bytesOut: 10,
      bytesIn,
      packetsOut: 1,
      packetsIn: 1,
      host,
      remote: { ip: '192.0.2.99', port: 443, name: 'bulk.example.com' },
      source: { type: 'netflow' as const, id: 't' },
      approval: null,
    });
    sink.observeRecords([rec('10.1.0.1', 1000)]);
    other.observeRecords([rec('10.9.0.2', 2000)]);
    await sink.flush();
    await other.flush();
    await other.stop();
    const target = schemaTarget(sinkConfig(server!));
    const swarms = await rows<{ info_hash: string; hosts: string[]; gateways: string[] }>(server!, swarmByInfoHashSql(target, { windowHours: 24 * 365, minHosts: 2 }));
    const found = swarms.find((s) => s.info_hash === hash);
    expect(found?.hosts.sort()).toEqual(['10.1.0.1', '10.9.0.2']);
    expect(found?.gateways.sort()).toEqual(['gw-a', 'gw-b']);
    const shared = await rows<{ remote_ip: string; hosts: string[]; gateways: string[]; bytes_in: string }>(server!, sharedRemoteSql(target, { windowHours: 24 * 365 }));
    const remote = shared.find((s) => s.remote_ip === '192.0.2.99');
    expect(remote?.gateways.sort()).toEqual(['gw-a', 'gw-b']);
    expect(Number(remote?.bytes_in)).toBe(3000);
  });

  it('drops day partitions older than the retention', async () => {
    const runner = new ClientRunner(connect(sinkConfig(server!)), 'egressd_test');
    const target = schemaTarget(sinkConfig(server!));
    try {
      const now = Date.UTC(2026, 10, 23, 12);
      const old = Math.floor(Date.UTC(2026, 8, 1, 10) / 1000);
      const recent = Math.floor(Date.UTC(2026, 10, 20, 10) / 1000);
      const hb = (at: number, key: string) => JSON.stringify({ at, gateway: 'gw-r', kind: 'heartbeat', pid: 1, uptime_s: 1, spool_bytes: 0, pending_rows: 0, detail: '', event_key: key });
      await runner.insert('heartbeats', `${hb(old, 'o')}\n${hb(recent, 'r')}\n`);
      const dropped = await applyRetention(runner, target, { ...sinkConfig(server!).retention, heartbeats: 30, incidents: 0, incident_changes: 0, flows_1m: 0, triage_events: 0 }, silentLogger(), undefined, now);
      expect(dropped).toEqual([{ table: 'heartbeats', day: 20260901 }]);
      expect(await scalar(server!, "SELECT count() FROM egressd_test.heartbeats WHERE gateway = 'gw-r'")).toBe(1);
      expect(await scalar(server!, 'SELECT count() FROM egressd_test.flows_1m')).toBeGreaterThan(0);
    } finally {
      await runner.close();
    }
  });

  it('stops cleanly', async () => {
    await sink.stop();
  });
});
