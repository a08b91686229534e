import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlRunner } from '../../../src/sinks/clickhouse/client.js';
import { FlowAggregator, flowRow } from '../../../src/sinks/clickhouse/flows.js';
import { clickhouseMetrics } from '../../../src/sinks/clickhouse/metrics.js';
import { migrate } from '../../../src/sinks/clickhouse/migrate.js';
import { applyRetention } from '../../../src/sinks/clickhouse/retention.js';
import { auditHeartbeatRow, incidentChangeRow, incidentRow, triageRow } from '../../../src/sinks/clickhouse/rows.js';
import {
  allStatements,
  currentIncidentsSql,
  hostPeersSql,
  hostTotalsSql,
  sharedRemoteSql,
  swarmByInfoHashSql,
  type SchemaTarget,
} from '../../../src/sinks/clickhouse/schema.js';
import { DeadLetter, Spool } from '../../../src/sinks/clickhouse/spool.js';
import { BatchWriter } from '../../../src/sinks/clickhouse/writer.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { tempDir } from '../../support/env.js';
import { flowCorpus, incident, incidentCorpus } from './corpus.js';

// The same DDL and every query the daemon runs, on the current engine (chdb, in-process).

type ChdbSession = { query(sql: string, format?: string): string; cleanup(): void };

const dir = tempDir('egressd-chdb-');
let session: ChdbSession;
const target: SchemaTarget = { database: 'egressd', cluster: '', zookeeperPath: '/clickhouse/tables/{shard}', replica: '{replica}' };

const runner: SqlRunner = {
  command: async (sql) => void session.query(sql, 'CSV'),
  rows: async <T>(sql: string) =>
    session
      .query(sql, 'JSONEachRow')
      .split('\n')
      .filter((l) => l)
      .map((l) => JSON.parse(l) as T),
  insert: async (table, body) => void session.query(`INSERT INTO ${target.database}.${table} FORMAT JSONEachRow\n${body}`, 'CSV'),
};

const rows = <T = Record<string, unknown>>(sql: string) => runner.rows<T>(sql);
const scalar = async (sql: string) => Number(session.query(sql, 'CSV').trim());

beforeAll(async () => {
  const { Session } = (await import('chdb')) as unknown as { Session: new (path: string) => ChdbSession };
  session = new Session(join(dir.path, 'db'));
});

afterAll(() => {
  session?.cleanup();
  dir.remove();
});

describe('clickhouse schema and queries on the current engine (chdb)', () => {
  const incidents = incidentCorpus(60, 21);
  const flows = flowCorpus({ hosts: 5, remotes: 30, minutes: 10, records: 5_000, batchSize: 250, seed: 9 });

  it('reports a current engine version', async () => {
    const version = session.query('SELECT version()', 'CSV').trim();
    expect(Number(version.replace(/"/g, '').split('.')[0])).toBeGreaterThanOrEqual(24);
  });

  it('applies the migrations, and re-running them is a no-op', async () => {
    expect(await migrate(runner, target, silentLogger(), 'gw-a')).toEqual({ applied: [1], skipped: [] });
    expect(await migrate(runner, target, silentLogger(), 'gw-a')).toEqual({ applied: [], skipped: [1] });
    expect(await scalar('SELECT count() FROM egressd.schema_migrations')).toBe(1);
    // the statements themselves are idempotent too
    for (const sql of allStatements(target)) await runner.command(sql);
  });

  it('takes the rows the writer produces and answers the daemon queries exactly', async () => {
    const spool = new Spool(join(dir.path, 'spool'), 1e9, { corrupt: () => undefined, dropped: () => undefined, size: () => undefined });
    await spool.open();
    const writer = new BatchWriter(
      { maxRows: 400, maxBytes: 1e6, maxAgeMs: 20, maxPending: 4, retryMinMs: 10, retryMaxMs: 20, tokenColumn: { flows_1m_input: 'batch_token' } },
      { inserter: runner, spool, deadLetter: new DeadLetter(join(dir.path, 'dead')), metrics: clickhouseMetrics(new Registry()), logger: silentLogger() },
    );
    const aggregator = new FlowAggregator(1_000_000, () => undefined);
    const now = Date.UTC(2026, 5, 11, 12);
    const writes: Promise<void>[] = [];
    for (const e of incidents.entries) {
      if (e.type === 'incident') {
        writes.push(writer.add('incidents', [incidentRow(e.change, 'gw-a', now)]));
        writes.push(writer.add('incident_changes', [incidentChangeRow(e.change, 'gw-a')]));
      } else {
        writes.push(writer.add('triage_events', [triageRow(e.event, 'gw-a')]));
        writes.push(writer.add('heartbeats', [auditHeartbeatRow({ action: 'rules_reloaded', at: e.event.at }, 'gw-a', 1)]));
      }
    }
    for (const [i, batch] of flows.batches.entries()) {
      aggregator.observe(batch);
      if (i % 5 === 4) writes.push(writer.add('flows_1m_input', aggregator.drain().map((b) => flowRow(b, 'gw-a'))));
    }
    writes.push(writer.add('flows_1m_input', aggregator.drain().map((b) => flowRow(b, 'gw-a'))));
    await Promise.all(writes);
    // bursts past max_pending went through the spool; its replay drains it
    for (let i = 0; i < 500 && spool.batches > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await writer.stop();
    expect(spool.batches).toBe(0);

    const current = await rows<{ id: string; latest_version: string | number; status: string }>(currentIncidentsSql(target));
    expect(current).toHaveLength(incidents.latest.size);
    for (const c of current) expect([Number(c.latest_version), c.status]).toEqual([incidents.latest.get(c.id)!.version, incidents.latest.get(c.id)!.status]);
    expect(await scalar('SELECT count() FROM egressd.incident_changes FINAL')).toBe(incidents.changes);
    expect(await scalar('SELECT count() FROM egressd.triage_events FINAL')).toBe(incidents.triage);

    const totals = await rows<Record<string, string | number>>(hostTotalsSql(target, 0, 4_000_000_000));
    expect(totals).toHaveLength(flows.perHost.size);
    for (const t of totals) {
      const sent = flows.perHost.get(String(t.host))!;
      expect([t.bytes_in, t.bytes_out, t.packets_in, t.packets_out, t.records, t.peers].map(Number)).toEqual([
        sent.bytesIn,
        sent.bytesOut,
        sent.packetsIn,
        sent.packetsOut,
        sent.records,
        sent.peers.size,
      ]);
    }
    const peers = await rows<{ host: string; peers: string | number }>(hostPeersSql(target));
    for (const p of peers) expect(Number(p.peers)).toBe(flows.perHost.get(p.host)!.peers.size);

    // a replayed batch (same token) adds rows but no counts
    const before = await rows(hostTotalsSql(target, 0, 4_000_000_000));
    const stored = session.query(
      'SELECT minute, host, remote_ip, remote_name, approved_source, bytes_in, bytes_out, packets_in, packets_out, records, batch_token, gateway FROM egressd.flows_1m',
      'JSONEachRow',
    );
    await runner.insert('flows_1m_input', stored);
    expect(await rows(hostTotalsSql(target, 0, 4_000_000_000))).toEqual(before);
  });

  it('runs the cross-gateway correlation queries', async () => {
    const hash = 'cd'.repeat(20);
    const a = incidentRow({ change: 'opened', incident: incident('x-a', 1, 'open', ['10.5.0.1'], hash, 1, 10) }, 'gw-a', 0);
    const b = incidentRow({ change: 'opened', incident: incident('x-b', 1, 'open', ['10.6.0.1'], hash, 1, 20) }, 'gw-b', 0);
    await runner.insert('incidents', `${JSON.stringify(a)}\n${JSON.stringify(b)}\n`);
    const swarms = await rows<{ info_hash: string; hosts: string[]; gateways: string[] }>(swarmByInfoHashSql(target, { windowHours: 24 * 365 }));
    const found = swarms.find((s) => s.info_hash === hash);
    expect(found?.hosts.sort()).toEqual(['10.5.0.1', '10.6.0.1']);
    expect(found?.gateways.sort()).toEqual(['gw-a', 'gw-b']);
    const shared = await rows<{ remote_ip: string; hosts: string[] }>(sharedRemoteSql(target, { windowHours: 24 * 365, minHosts: 2 }));
    expect(shared.length).toBeGreaterThan(0);
    for (const s of shared) expect(s.hosts.length).toBeGreaterThanOrEqual(2);
  });

  it('finds and drops expired day partitions', async () => {
    const old = { at: Math.floor(Date.UTC(2025, 0, 2) / 1000), gateway: 'gw-r', kind: 'heartbeat', pid: 1, uptime_s: 0, spool_bytes: 0, pending_rows: 0, detail: '', event_key: 'k' };
    await runner.insert('heartbeats', JSON.stringify(old) + '\n');
    const retention = { incidents: 0, incident_changes: 0, flows_1m: 0, triage_events: 0, heartbeats: 30, check_interval: 0 };
    const dropped = await applyRetention(runner, target, retention, silentLogger(), undefined, Date.UTC(2026, 5, 30));
    expect(dropped).toContainEqual({ table: 'heartbeats', day: 20250102 });
    expect(await scalar("SELECT count() FROM egressd.heartbeats WHERE gateway = 'gw-r'")).toBe(0);
  });

  it('parses the cluster DDL on the current engine', async () => {
    const clustered: SchemaTarget = { ...target, cluster: 'gateways' };
    for (const sql of allStatements(clustered)) {
      const literal = `'${sql.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
      const formatted = session.query(`SELECT formatQuery(${literal})`, 'TSVRaw').trim();
      expect(formatted).toContain('ON CLUSTER gateways');
    }
  });
});
