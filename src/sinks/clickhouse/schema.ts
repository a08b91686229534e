// The ClickHouse schema: one DDL set that runs unchanged on ClickHouse 18.16 and on current
// engines (DateTime, IPs as String, (Replacing)MergeTree, day partitions, no query parameters).
// Identifiers come from validated config; the only values inlined are validated numbers.
//
// Every table but schema_migrations is deduplicating (ReplacingMergeTree on a natural key), so a
// batch replayed from the spool, or inserted twice after a lost acknowledgement, never doubles
// anything once read through the queries below (argMax/FINAL-free, exact before merges too).

/** Where the DDL goes: one server, or a cluster of replicated shards behind Distributed tables. */
export interface SchemaTarget {
  database: string;
  /** Empty: one server. */
  cluster: string;
  zookeeperPath: string;
  replica: string;
}

export type TableName = 'incidents' | 'incident_changes' | 'flows_1m' | 'triage_events' | 'heartbeats';

/** Tables the writer inserts into: flows go through the Null `flows_1m_input` feeding a view. */
export type InsertTable = 'incidents' | 'incident_changes' | 'flows_1m_input' | 'triage_events' | 'heartbeats';
export const INSERT_TABLES: readonly InsertTable[] = ['incidents', 'incident_changes', 'flows_1m_input', 'triage_events', 'heartbeats'];

/** Tables with day partitions that retention trims. */
export const RETAINED_TABLES: readonly TableName[] = ['incidents', 'incident_changes', 'flows_1m', 'triage_events', 'heartbeats'];

interface TableSpec {
  columns: string;
  /** `replacing` with an optional version column, or `null` (a pass-through feeding a view). */
  engine: { kind: 'replacing'; version?: string } | { kind: 'null' };
  partitionBy?: string;
  orderBy?: string;
  /** Distributed sharding key: rows that replace each other must land on the same shard. */
  shardBy: string;
}

const FLOW_SUMS = `
  bytes_in UInt64,
  bytes_out UInt64,
  packets_in UInt64,
  packets_out UInt64,
  records UInt64,`;

const TABLES: Record<TableName | 'flows_1m_input' | 'schema_migrations', TableSpec> = {
  schema_migrations: {
    columns: `
  version UInt32,
  name String,
  applied_at DateTime,
  gateway String`,
    engine: { kind: 'replacing' },
    orderBy: 'version',
    shardBy: 'version',
  },
  // Current state of each incident: the highest version wins.
  incidents: {
    columns: `
  id String,
  version UInt64,
  kind String,
  status String,
  hosts Array(String),
  first_seen DateTime,
  last_seen DateTime,
  score UInt8,
  severity String,
  approved_source Nullable(String),
  rule String,
  bytes_in UInt64,
  bytes_out UInt64,
  peers UInt32,
  info_hashes Array(String),
  remotes Array(String),
  users Array(String),
  signals String,
  gateway String,
  updated_at DateTime`,
    engine: { kind: 'replacing', version: 'version' },
    partitionBy: 'toYYYYMMDD(first_seen)',
    orderBy: 'id',
    shardBy: 'cityHash64(id)',
  },
  // Timeline: every change of every incident with the evidence it carried at that moment.
  incident_changes: {
    columns: `
  id String,
  version UInt64,
  change String,
  at DateTime,
  status String,
  score UInt8,
  severity String,
  hosts Array(String),
  approved_source Nullable(String),
  rule String,
  evidence String,
  gateway String`,
    engine: { kind: 'replacing', version: 'version' },
    partitionBy: 'toYYYYMMDD(at)',
    orderBy: '(id, version)',
    shardBy: 'cityHash64(id)',
  },
  // What the writer inserts: one row per (minute, host, remote) per batch. The view turns it
  // into flows_1m with the distinct-peer aggregate state.
  flows_1m_input: {
    columns: `
  minute DateTime,
  host String,
  remote_ip String,
  remote_name String,
  approved_source String,${FLOW_SUMS}
  batch_token String,
  gateway String`,
    engine: { kind: 'null' },
    shardBy: 'cityHash64(host)',
  },
  // Keyed by batch token: a replayed batch replaces itself instead of adding to the sums.
  flows_1m: {
    columns: `
  minute DateTime,
  host String,
  remote_ip String,
  remote_name String,
  approved_source String,${FLOW_SUMS}
  peers AggregateFunction(uniq, String),
  batch_token String,
  gateway String`,
    engine: { kind: 'replacing' },
    partitionBy: 'toYYYYMMDD(minute)',
    orderBy: '(host, minute, remote_ip, batch_token)',
    shardBy: 'cityHash64(host)',
  },
  triage_events: {
    columns: `
  at DateTime,
  incident_id String,
  actor String,
  verdict String,
  note String,
  event String,
  event_key String,
  gateway String`,
    engine: { kind: 'replacing' },
    partitionBy: 'toYYYYMMDD(at)',
    orderBy: '(incident_id, at, event_key)',
    shardBy: 'cityHash64(incident_id)',
  },
  // Liveness of each gateway, plus its non-triage audit events (start, stop, reloads).
  heartbeats: {
    columns: `
  at DateTime,
  gateway String,
  kind String,
  pid UInt32,
  uptime_s UInt64,
  spool_bytes UInt64,
  pending_rows UInt64,
  detail String,
  event_key String`,
    engine: { kind: 'replacing' },
    partitionBy: 'toYYYYMMDD(at)',
    orderBy: '(gateway, at, kind, event_key)',
    shardBy: 'cityHash64(gateway)',
  },
};

const FLOWS_VIEW_SELECT = (source: string) => `SELECT
  minute,
  host,
  remote_ip,
  any(remote_name) AS remote_name,
  any(approved_source) AS approved_source,
  sum(bytes_in) AS bytes_in,
  sum(bytes_out) AS bytes_out,
  sum(packets_in) AS packets_in,
  sum(packets_out) AS packets_out,
  sum(records) AS records,
  uniqState(remote_ip) AS peers,
  batch_token,
  any(gateway) AS gateway
FROM ${source}
GROUP BY minute, host, remote_ip, batch_token`;

function onCluster(t: SchemaTarget): string {
  return t.cluster ? ` ON CLUSTER ${t.cluster}` : '';
}

/** Name of the physical (per-server) table: `<name>_local` in cluster mode. */
export function localTable(t: SchemaTarget, name: string): string {
  return `${t.database}.${t.cluster ? `${name}_local` : name}`;
}

function engineClause(t: SchemaTarget, name: string, spec: TableSpec): string {
  if (spec.engine.kind === 'null') return 'Null';
  const version = spec.engine.version ?? '';
  if (!t.cluster) return `ReplacingMergeTree(${version})`;
  const path = `${t.zookeeperPath.replace(/\/+$/, '')}/${t.database}/${name}`;
  return `ReplicatedReplacingMergeTree('${path}', '${t.replica}'${version ? `, ${version}` : ''})`;
}

function createTable(t: SchemaTarget, name: keyof typeof TABLES): string[] {
  const spec = TABLES[name];
  const clauses = [`ENGINE = ${engineClause(t, name, spec)}`];
  if (spec.partitionBy) clauses.push(`PARTITION BY ${spec.partitionBy}`);
  if (spec.orderBy) clauses.push(`ORDER BY ${spec.orderBy}`);
  const statements = [`CREATE TABLE IF NOT EXISTS ${localTable(t, name)}${onCluster(t)} (${spec.columns}\n) ${clauses.join(' ')}`];
  if (t.cluster) {
    statements.push(
      `CREATE TABLE IF NOT EXISTS ${t.database}.${name}${onCluster(t)} AS ${localTable(t, name)} ` +
        `ENGINE = Distributed(${t.cluster}, ${t.database}, ${name}_local, ${spec.shardBy})`,
    );
  }
  return statements;
}

export function createDatabase(t: SchemaTarget): string {
  return `CREATE DATABASE IF NOT EXISTS ${t.database}${onCluster(t)}`;
}

export function createMigrationsTable(t: SchemaTarget): string[] {
  return createTable(t, 'schema_migrations');
}

export interface Migration {
  version: number;
  name: string;
  /** Each statement is safe to re-run (IF NOT EXISTS), so an interrupted migration can be retried. */
  statements(t: SchemaTarget): string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'incidents, timeline, flow aggregates, triage, heartbeats',
    statements: (t) => [
      ...createTable(t, 'incidents'),
      ...createTable(t, 'incident_changes'),
      ...createTable(t, 'flows_1m'),
      ...createTable(t, 'flows_1m_input'),
      // Per server, from the local input to the local aggregate table.
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${t.database}.flows_1m_mv${onCluster(t)} TO ${localTable(t, 'flows_1m')} AS ` +
        FLOWS_VIEW_SELECT(localTable(t, 'flows_1m_input')),
      ...createTable(t, 'triage_events'),
      ...createTable(t, 'heartbeats'),
    ],
  },
];

/** Every statement of a fresh install, in order (for `schema apply --print` and tests). */
export function allStatements(t: SchemaTarget): string[] {
  return [createDatabase(t), ...createMigrationsTable(t), ...MIGRATIONS.flatMap((m) => m.statements(t))];
}

// ---- Queries the daemon runs -------------------------------------------------------------

function positiveInt(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
  return n;
}

export function appliedMigrationsSql(t: SchemaTarget): string {
  return `SELECT DISTINCT version FROM ${t.database}.schema_migrations ORDER BY version FORMAT JSONEachRow`;
}

/** Active day partitions of the retained tables on the server answering the query. */
export function partitionsSql(t: SchemaTarget): string {
  const tables = RETAINED_TABLES.map((n) => `'${t.cluster ? `${n}_local` : n}'`).join(', ');
  return (
    `SELECT table, partition FROM system.parts WHERE database = '${t.database}' AND active AND table IN (${tables}) ` +
    `GROUP BY table, partition ORDER BY table, partition FORMAT JSONEachRow`
  );
}

/** Drop one day partition (`YYYYMMDD`, validated) of a retained table, on every server of the cluster. */
export function dropPartitionSql(t: SchemaTarget, table: TableName, day: number): string {
  if (!RETAINED_TABLES.includes(table)) throw new RangeError(`not a retained table: ${table}`);
  const d = positiveInt(day, 'partition');
  if (d < 19700101 || d > 99991231) throw new RangeError(`not a day partition: ${day}`);
  return `ALTER TABLE ${localTable(t, table)}${onCluster(t)} DROP PARTITION ${d}`;
}

// ---- Named queries (documented in README.md beside this file) ----------------------------

export interface SwarmQueryOptions {
  /** Look back this many hours from the newest data (default 24). */
  windowHours?: number;
  /** At least this many distinct internal hosts (default 2). */
  minHosts?: number;
}

/**
 * Cross-gateway swarm correlation by info hash: internal hosts, on any gateway, whose incidents
 * name the same BitTorrent info hash within the window. Latest version of each incident only.
 * Columns: info_hash, hosts, gateways, incidents, first_seen, last_seen, bytes_in.
 */
export function swarmByInfoHashSql(t: SchemaTarget, options: SwarmQueryOptions = {}): string {
  const hours = positiveInt(options.windowHours ?? 24, 'windowHours');
  const minHosts = positiveInt(options.minHosts ?? 2, 'minHosts');
  // One ARRAY JOIN per query level: 18.16 supports no more.
  return `SELECT
  info_hash,
  groupUniqArray(host) AS hosts,
  groupUniqArray(gateway) AS gateways,
  groupUniqArray(id) AS incidents,
  min(first) AS first_seen,
  max(last) AS last_seen,
  sum(bytes) AS bytes_in
FROM
(
  SELECT id, host, ihs, gateway, first, last, bytes
  FROM
  (
    SELECT id, argMax(hosts, version) AS hs, argMax(info_hashes, version) AS ihs, argMax(gateway, version) AS gateway,
      min(first_seen) AS first, max(last_seen) AS last, argMax(bytes_in, version) AS bytes
    FROM ${t.database}.incidents
    GROUP BY id
    HAVING last >= (SELECT max(last_seen) FROM ${t.database}.incidents) - ${hours * 3600}
  )
  ARRAY JOIN hs AS host
)
ARRAY JOIN ihs AS info_hash
GROUP BY info_hash
HAVING uniqExact(host) >= ${minHosts}
ORDER BY uniqExact(host) DESC, info_hash
FORMAT JSONEachRow`;
}

export interface SharedRemoteOptions extends SwarmQueryOptions {
  /** Each host received at least this many bytes from the remote (default 1). */
  minBytesPerHost?: number;
}

/**
 * Cross-gateway correlation by source: unapproved remotes that several internal hosts (on any
 * gateway) pulled from within the window, from the per-minute aggregates.
 * Columns: remote_ip, remote_name, hosts, gateways, bytes_in, peers_of_hosts.
 */
export function sharedRemoteSql(t: SchemaTarget, options: SharedRemoteOptions = {}): string {
  const hours = positiveInt(options.windowHours ?? 24, 'windowHours');
  const minHosts = positiveInt(options.minHosts ?? 2, 'minHosts');
  const minBytes = positiveInt(options.minBytesPerHost ?? 1, 'minBytesPerHost');
  return `SELECT
  remote_ip,
  any(name) AS remote_name,
  groupUniqArray(host) AS hosts,
  groupUniqArray(gw) AS gateways,
  sum(bytes) AS bytes_in
FROM
(
  SELECT remote_ip, host, any(remote_name) AS name, any(gateway) AS gw, sum(bytes_in) AS bytes
  FROM ${dedupedFlows(t, `minute >= (SELECT max(minute) FROM ${t.database}.flows_1m) - ${hours * 3600} AND approved_source = ''`)}
  GROUP BY remote_ip, host
  HAVING bytes >= ${minBytes}
)
GROUP BY remote_ip
HAVING uniqExact(host) >= ${minHosts}
ORDER BY uniqExact(host) DESC, bytes_in DESC, remote_ip
FORMAT JSONEachRow`;
}

/** flows_1m rows with replayed batches collapsed (exact even before background merges). */
function dedupedFlows(t: SchemaTarget, where: string): string {
  return `(
    SELECT minute, host, remote_ip, batch_token, any(remote_name) AS remote_name, any(gateway) AS gateway,
      any(approved_source) AS approved_source, any(bytes_in) AS bytes_in, any(bytes_out) AS bytes_out,
      any(packets_in) AS packets_in, any(packets_out) AS packets_out, any(records) AS records
    FROM
    (
      SELECT minute, host, remote_ip, batch_token, remote_name, gateway, approved_source, bytes_in, bytes_out,
        packets_in, packets_out, records
      FROM ${t.database}.flows_1m
      WHERE ${where}
    )
    GROUP BY minute, host, remote_ip, batch_token
  )`;
}

/**
 * Per-host totals over a time range (epoch seconds, validated): bytes, packets, records and
 * distinct peers merged from the aggregate states. Columns: host, bytes_in, bytes_out,
 * packets_in, packets_out, records, peers.
 */
export function hostTotalsSql(t: SchemaTarget, fromSec: number, toSec: number): string {
  const from = positiveInt(fromSec, 'fromSec');
  const to = positiveInt(toSec, 'toSec');
  return `SELECT host, sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out, sum(packets_in) AS packets_in,
  sum(packets_out) AS packets_out, sum(records) AS records, uniqExact(remote_ip) AS peers
FROM ${dedupedFlows(t, `minute >= toDateTime(${from}) AND minute < toDateTime(${to})`)}
GROUP BY host
ORDER BY host
FORMAT JSONEachRow`;
}

/** Distinct peers per host from the aggregate states (approximate: uniq), merged across batches and minutes. */
export function hostPeersSql(t: SchemaTarget): string {
  return `SELECT host, uniqMerge(peers) AS peers FROM ${t.database}.flows_1m GROUP BY host ORDER BY host FORMAT JSONEachRow`;
}

/** Latest version of every incident. */
export function currentIncidentsSql(t: SchemaTarget): string {
  return `SELECT id, max(version) AS latest_version, argMax(status, version) AS status, argMax(score, version) AS score,
  argMax(hosts, version) AS hosts, argMax(bytes_in, version) AS bytes_in, argMax(gateway, version) AS gateway
FROM ${t.database}.incidents
GROUP BY id
ORDER BY id
FORMAT JSONEachRow`;
}
