import { describe, expect, it } from 'vitest';
import { applyEnvironment } from '../../config/load.js';
import { configSchema } from '../../config/schema.js';
import { schemaTarget } from './client.js';
import { clickhouseSchema } from './config.js';
import { expiredPartitions, firstKeptDay } from './retention.js';
import { allStatements, dropPartitionSql, hostTotalsSql, MIGRATIONS, swarmByInfoHashSql } from './schema.js';

const single = { database: 'egressd', cluster: '', zookeeperPath: '/clickhouse/tables/{shard}', replica: '{replica}' };
const cluster = { ...single, cluster: 'gateways' };

describe('clickhouse config', () => {
  it('parses {} into a disabled sink with full defaults', () => {
    const c = clickhouseSchema.parse({});
    expect(c.url).toBe('');
    expect(c.database).toBe('egressd');
    expect(c.batch.max_bytes).toBe(4 * 1024 * 1024);
    expect(c.spool.max_bytes).toBe(1024 ** 3);
    expect(c.retention.flows_1m).toBe(30);
    expect(c.request_timeout).toBe(30_000);
  });

  it('takes url, database, user and password from the environment', () => {
    const raw = applyEnvironment({}, { EGRESSD_CLICKHOUSE_URL: 'http://127.0.0.1:8123', EGRESSD_CLICKHOUSE_DATABASE: 'gw', EGRESSD_CLICKHOUSE_USER: 'u', EGRESSD_CLICKHOUSE_PASSWORD: 'p' });
    const c = configSchema.parse(raw).clickhouse;
    expect([c.url, c.database, c.user, c.password]).toEqual(['http://127.0.0.1:8123', 'gw', 'u', 'p']);
  });

  it('rejects names that would not be safe identifiers in DDL', () => {
    expect(clickhouseSchema.safeParse({ database: "x'; DROP" }).success).toBe(false);
    expect(clickhouseSchema.safeParse({ cluster: { name: 'a b' } }).success).toBe(false);
    expect(clickhouseSchema.safeParse({ tls: { cert_file: '/c.pem' } }).success).toBe(false);
  });
});

describe('DDL', () => {
  it('single server: ReplacingMergeTree with day partitions, no cluster clauses', () => {
    const sql = allStatements(single).join('\n');
    expect(sql).not.toMatch(/ON CLUSTER|Replicated|Distributed/);
    expect(sql).toContain('ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMMDD(first_seen) ORDER BY id');
    expect(sql).toContain('peers AggregateFunction(uniq, String)');
    expect(sql).toContain('CREATE MATERIALIZED VIEW IF NOT EXISTS egressd.flows_1m_mv TO egressd.flows_1m AS');
    expect(sql.match(/IF NOT EXISTS/g)?.length).toBe(allStatements(single).length);
  });

  it('cluster: replicated local tables and Distributed tables ON CLUSTER, sharded by the dedup key', () => {
    const statements = allStatements(cluster);
    expect(statements.every((s) => s.includes(' ON CLUSTER gateways'))).toBe(true);
    const sql = statements.join('\n');
    expect(sql).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/egressd/incidents', '{replica}', version)");
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS egressd.incidents ON CLUSTER gateways AS egressd.incidents_local ENGINE = Distributed(gateways, egressd, incidents_local, cityHash64(id))');
    expect(sql).toContain('ENGINE = Distributed(gateways, egressd, flows_1m_input_local, cityHash64(host))');
    expect(sql).toContain('TO egressd.flows_1m_local AS');
    expect(sql).toContain('FROM egressd.flows_1m_input_local');
  });

  it('migrations have increasing versions', () => {
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('inlines only validated numbers', () => {
    expect(dropPartitionSql(single, 'flows_1m', 20260101)).toBe('ALTER TABLE egressd.flows_1m DROP PARTITION 20260101');
    expect(dropPartitionSql(cluster, 'flows_1m', 20260101)).toBe('ALTER TABLE egressd.flows_1m_local ON CLUSTER gateways DROP PARTITION 20260101');
    expect(() => dropPartitionSql(single, 'flows_1m', 2026)).toThrow(RangeError);
    expect(() => dropPartitionSql(single, 'schema_migrations' as 'flows_1m', 20260101)).toThrow(RangeError);
    expect(() => hostTotalsSql(single, -1, 5)).toThrow(RangeError);
    expect(() => swarmByInfoHashSql(single, { windowHours: 1.5 })).toThrow(RangeError);
    expect(swarmByInfoHashSql(single, { windowHours: 2, minHosts: 3 })).toContain('- 7200');
  });

  it('derives the target from config', () => {
    const c = clickhouseSchema.parse({ database: 'db1', cluster: { name: 'c1' } });
    expect(schemaTarget(c)).toEqual({ database: 'db1', cluster: 'c1', zookeeperPath: '/clickhouse/tables/{shard}', replica: '{replica}' });
  });
});

describe('retention', () => {
  const now = Date.UTC(2026, 10, 23, 12);
  it('keeps the last N days including today', () => {
    expect(firstKeptDay(now, 1)).toBe(20261123);
    expect(firstKeptDay(now, 30)).toBe(20261025);
  });

  it('picks partitions older than each table keeps; 0 keeps forever', () => {
    const parts = [
      { table: 'flows_1m', partition: '20261024' },
      { table: 'flows_1m', partition: '20261025' },
      { table: 'incidents', partition: '20200101' },
      { table: 'schema_migrations', partition: 'tuple()' },
      { table: 'heartbeats', partition: "'junk'" },
    ];
    const retention = { incidents: 0, incident_changes: 365, flows_1m: 30, triage_events: 730, heartbeats: 30 };
    expect(expiredPartitions(parts, retention, now, false)).toEqual([{ table: 'flows_1m', day: 20261024 }]);
    expect(expiredPartitions([{ table: 'flows_1m_local', partition: '20200101' }], retention, now, true)).toEqual([{ table: 'flows_1m', day: 20200101 }]);
  });
});
