import type { Logger } from '../../telemetry/logger.js';
import type { SqlRunner } from './client.js';
import type { ClickhouseConfig } from './config.js';
import type { ClickhouseMetrics } from './metrics.js';
import { dropPartitionSql, partitionsSql, RETAINED_TABLES, type SchemaTarget, type TableName } from './schema.js';

// Retention: drop whole day partitions older than each table's configured days (0 = forever).
// Partitions come from system.parts; only validated YYYYMMDD numbers are inlined.

/** The oldest day (YYYYMMDD, UTC) still kept when keeping `days` days up to `nowMs`. */
export function firstKeptDay(nowMs: number, days: number): number {
  const d = new Date(nowMs - (days - 1) * 86_400_000);
  return d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** Which partitions to drop, from (table, partition) rows as system.parts reports them. */
export function expiredPartitions(
  parts: readonly { table: string; partition: string }[],
  retention: Record<TableName, number>,
  nowMs: number,
  clustered: boolean,
): { table: TableName; day: number }[] {
  const out: { table: TableName; day: number }[] = [];
  for (const p of parts) {
    const name = (clustered ? p.table.replace(/_local$/, '') : p.table) as TableName;
    if (!RETAINED_TABLES.includes(name)) continue;
    const days = retention[name];
    if (!days) continue;
    const text = p.partition.replace(/^'|'$/g, '');
    if (!/^\d{8}$/.test(text)) continue;
    const day = Number(text);
    if (day < firstKeptDay(nowMs, days)) out.push({ table: name, day });
  }
  return out;
}

export async function applyRetention(
  runner: SqlRunner,
  target: SchemaTarget,
  retention: ClickhouseConfig['retention'],
  logger: Logger,
  metrics?: ClickhouseMetrics,
  nowMs = Date.now(),
): Promise<{ table: TableName; day: number }[]> {
  const parts = await runner.rows<{ table: string; partition: string }>(partitionsSql(target));
  const expired = expiredPartitions(parts, retention, nowMs, target.cluster !== '');
  for (const { table, day } of expired) {
    await runner.command(dropPartitionSql(target, table, day));
    metrics?.partitionsDropped.inc({ table });
    logger.info({ table, partition: day }, 'clickhouse retention: day partition dropped');
  }
  return expired;
}
