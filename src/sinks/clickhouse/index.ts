import { hostname } from 'node:os';
import { join } from 'node:path';
import type { CommonDeps } from '../../daemon/component.js';
import { EgressdError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Sink, SinkEntry } from '../types.js';
import { ClientRunner, connect, schemaTarget } from './client.js';
import type { ClickhouseConfig } from './config.js';
import { classifyError } from './errors.js';
import { FlowAggregator, flowRow } from './flows.js';
import { clickhouseMetrics } from './metrics.js';
import { migrate, type MigrationResult } from './migrate.js';
import { applyRetention } from './retention.js';
import { auditHeartbeatRow, heartbeatRow, incidentChangeRow, incidentRow, triageRow } from './rows.js';
import { allStatements } from './schema.js';
import { DeadLetter, Spool } from './spool.js';
import { BatchWriter } from './writer.js';

export { swarmByInfoHashSql, sharedRemoteSql, hostTotalsSql, hostPeersSql, currentIncidentsSql } from './schema.js';
export type { MigrationResult } from './migrate.js';

export const SPOOL_DIR = 'clickhouse-spool';
export const DEAD_LETTER_DIR = 'clickhouse-dead-letter';

/** `egressd schema apply`: create the database and tables, record the migrations. */
export async function applySchema(config: ClickhouseConfig, logger: Logger): Promise<MigrationResult> {
  const runner = new ClientRunner(connect(config), config.database, config.cluster.name !== '');
  try {
    return await migrate(runner, schemaTarget(config), logger, config.gateway || hostname());
  } finally {
    await runner.close();
  }
}

/** The DDL `schema apply` would run on a fresh server (for review, `--print`). */
export function schemaStatements(config: ClickhouseConfig): string[] {
  return allStatements(schemaTarget(config));
}

export interface ClickhouseSink extends Sink {
  observeRecords(batch: readonly FlowRecord[]): void;
  /** Batches in the outage spool (tests, status). */
  spoolBatches(): number;
  /** Resolves once the spool is empty and nothing waits in memory. */
  drained(timeoutMs?: number): Promise<void>;
}

/**
 * Incidents, their timeline, triage events, heartbeats and per-minute flow aggregates into
 * ClickHouse. Inert until `start`. `write` resolves once the rows are in ClickHouse, or in the
 * disk spool to be replayed.
 */
export function createClickhouseSink(config: ClickhouseConfig, deps: CommonDeps): ClickhouseSink {
  const logger = deps.logger;
  const metrics = clickhouseMetrics(deps.registry);
  const gateway = config.gateway || hostname();
  const target = schemaTarget(config);
  const spool = new Spool(join(deps.stateDir, SPOOL_DIR), config.spool.max_bytes, {
    corrupt: (file, reason) => {
      metrics.spoolCorrupt.inc();
      logger.error({ file, reason }, 'clickhouse spool record damaged: moved to corrupt/');
    },
    dropped: (batches, rows, bytes) => {
      metrics.spoolDropped.inc(rows);
      logger.warn({ batches, rows, bytes }, 'clickhouse spool full: oldest batches dropped');
    },
    size: (bytes, batches) => {
      metrics.spoolBytes.set(bytes);
      metrics.spoolBatches.set(batches);
    },
  });
  let runner: ClientRunner | undefined;
  let writer: BatchWriter | undefined;
  let schemaReady = !config.apply_schema_on_start;
  const timers: NodeJS.Timeout[] = [];
  const startedAt = Date.now();
  let heartbeatSeq = 0;
  let retentionRunning = false;

  const aggregator = new FlowAggregator(config.flows.max_keys, () => drainFlows());

  function drainFlows(): void {
    if (aggregator.size === 0) return;
    if (!writer) {
      // not started (or stopped): nowhere to put them, and memory must stay bounded
      if (aggregator.size >= config.flows.max_keys) metrics.flowKeysDropped.inc(aggregator.drain().length);
      return;
    }
    const rows = aggregator.drain().map((b) => flowRow(b, gateway));
    metrics.flowKeys.set(0);
    writer.add('flows_1m_input', rows).catch((err: Error) => logger.error({ err }, 'clickhouse flow aggregates lost: neither inserted nor spooled'));
  }

  async function ensureSchema(): Promise<void> {
    if (schemaReady || !runner) return;
    await migrate(runner, target, logger, gateway);
    schemaReady = true;
  }

  function heartbeat(kind: string): Promise<void> {
    if (!writer) return Promise.resolve();
    heartbeatSeq += 1;
    const row = heartbeatRow(
      {
        at: Date.now(),
        kind,
        pid: process.pid,
        uptimeSeconds: (Date.now() - startedAt) / 1000,
        spoolBytes: spool.bytes,
        pendingRows: writer.pendingRows,
        detail: '',
        key: `${process.pid}-${startedAt}-${heartbeatSeq}`,
      },
      gateway,
    );
    return writer.add('heartbeats', [row]).catch((err: Error) => logger.warn({ err }, 'clickhouse heartbeat not written'));
  }

  async function retention(): Promise<void> {
    if (!runner || !writer || writer.inOutage || retentionRunning || !schemaReady) return;
    retentionRunning = true;
    try {
      await applyRetention(runner, target, config.retention, logger, metrics);
    } catch (err) {
      logger.warn({ err }, 'clickhouse retention failed; will retry');
    } finally {
      retentionRunning = false;
    }
  }

  return {
    name: 'clickhouse',

    async start() {
      runner = new ClientRunner(connect(config), config.database, config.cluster.name !== '');
      await spool.open();
      writer = new BatchWriter(
        {
          maxRows: config.batch.max_rows,
          maxBytes: config.batch.max_bytes,
          maxAgeMs: config.batch.max_age,
          maxPending: config.batch.max_pending,
          retryMinMs: config.spool.retry_min,
          retryMaxMs: config.spool.retry_max,
          tokenColumn: { flows_1m_input: 'batch_token' },
        },
        { inserter: runner, spool, deadLetter: new DeadLetter(join(deps.stateDir, DEAD_LETTER_DIR)), metrics, logger, beforeReplay: ensureSchema },
      );
      if (config.apply_schema_on_start) {
        try {
          await ensureSchema();
        } catch (err) {
          const c = classifyError(err);
          if (c.kind === 'permanent') {
            throw new EgressdError('SINK_PERMANENT', `clickhouse schema apply failed: ${(err as Error).message}`, { cause: err });
          }
          logger.warn({ err }, 'clickhouse unreachable at start: spooling until it answers');
        }
      }
      writer.startReplay();
      if (spool.batches > 0) logger.info({ batches: spool.batches, bytes: spool.bytes }, 'clickhouse spool from a previous run: replaying');
      timers.push(setInterval(drainFlows, config.flows.flush_interval));
      if (config.heartbeat_interval > 0) {
        void heartbeat('sink_start');
        timers.push(setInterval(() => void heartbeat('heartbeat'), config.heartbeat_interval));
      }
      if (config.retention.check_interval > 0) {
        timers.push(setTimeout(() => void retention(), 5_000));
        timers.push(setInterval(() => void retention(), config.retention.check_interval));
      }
      for (const t of timers) t.unref();
    },

    async stop() {
      for (const t of timers.splice(0)) clearTimeout(t);
      if (!writer) return;
      drainFlows();
      if (config.heartbeat_interval > 0) void heartbeat('sink_stop');
      await writer.stop();
      await runner?.close();
      writer = undefined;
      runner = undefined;
    },

    observeRecords(batch: readonly FlowRecord[]) {
      const before = aggregator.skipped;
      aggregator.observe(batch);
      if (aggregator.skipped !== before) metrics.flowSkipped.inc(aggregator.skipped - before);
      metrics.flowKeys.set(aggregator.size);
    },

    async write(entries: readonly SinkEntry[]) {
      if (!writer) throw new EgressdError('SINK_RETRIABLE', 'clickhouse sink is not started');
      const incidents: Record<string, unknown>[] = [];
      const changes: Record<string, unknown>[] = [];
      const triage: Record<string, unknown>[] = [];
      const events: Record<string, unknown>[] = [];
      const now = Date.now();
      for (const entry of entries) {
        if (entry.type === 'incident') {
          incidents.push(incidentRow(entry.change, gateway, now));
          changes.push(incidentChangeRow(entry.change, gateway));
        } else if (entry.event.action === 'triage') {
          triage.push(triageRow(entry.event, gateway));
        } else {
          events.push(auditHeartbeatRow(entry.event, gateway, process.pid));
        }
      }
      await Promise.all([
        writer.add('incidents', incidents),
        writer.add('incident_changes', changes),
        writer.add('triage_events', triage),
        writer.add('heartbeats', events),
      ]);
    },

    async flush() {
      drainFlows();
      await writer?.flush();
    },

    spoolBatches: () => spool.batches,

    async drained(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (writer) await writer.idle();
        if (spool.batches === 0 && (!writer || writer.pendingRows === 0)) return;
        if (Date.now() > deadline) throw new Error(`clickhouse spool not drained after ${timeoutMs} ms (${spool.batches} batches)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
