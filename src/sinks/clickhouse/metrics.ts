import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../telemetry/metrics.js';

// Everything that moves in the ClickHouse sink gets a counter; labels are tables and closed sets.

export function clickhouseMetrics(registry: Registry) {
  return {
    rows: counter(registry, 'clickhouse_rows_total', 'Rows by outcome: inserted, spooled, replayed, dead_letter', ['table', 'result']),
    inserts: counter(registry, 'clickhouse_inserts_total', 'Insert requests by result: ok, retriable, permanent', ['table', 'result']),
    errors: counter(registry, 'clickhouse_errors_total', 'Failed inserts by reason: network, timeout, server, data, http_4xx, unknown', ['table', 'reason']),
    insertSeconds: histogram(registry, 'clickhouse_insert_seconds', 'Insert request duration', ['table'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    batchRows: histogram(registry, 'clickhouse_batch_rows', 'Rows per cut batch', ['table'], [1, 10, 100, 1000, 10_000, 100_000]),
    pendingRows: gauge(registry, 'clickhouse_pending_rows', 'Rows waiting in memory for an insert', ['table']),
    outage: gauge(registry, 'clickhouse_outage', '1 while ClickHouse is unreachable and batches go to the spool'),
    spoolBytes: gauge(registry, 'clickhouse_spool_bytes', 'Bytes in the outage spool'),
    spoolBatches: gauge(registry, 'clickhouse_spool_batches', 'Batches in the outage spool'),
    spoolDropped: counter(registry, 'clickhouse_spool_dropped_rows_total', 'Rows of the oldest spooled batches dropped to stay under spool.max_bytes'),
    spoolCorrupt: counter(registry, 'clickhouse_spool_corrupt_total', 'Spool records that failed their checksum or did not parse'),
    flowKeys: gauge(registry, 'clickhouse_flow_keys', 'Per-minute (host, remote) aggregates held in memory'),
    flowKeysDropped: counter(registry, 'clickhouse_flow_keys_dropped_total', 'Flow aggregates dropped because the sink was not running'),
    flowSkipped: counter(registry, 'clickhouse_flow_records_skipped_total', 'Records without an internal host or remote, not aggregated'),
    partitionsDropped: counter(registry, 'clickhouse_partitions_dropped_total', 'Day partitions dropped by retention', ['table']),
  };
}
export type ClickhouseMetrics = ReturnType<typeof clickhouseMetrics>;
