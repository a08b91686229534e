import type { Registry } from 'prom-client';
import type { DetectionEngine } from '../detect/types.js';
import type { Enricher } from '../enrich/index.js';
import type { IncidentChange } from '../incidents/types.js';
import type { FlowRecord } from '../record.js';
import type { RecordBatchSink } from '../sources/types.js';
import type { AuditEvent, Sink, SinkEntry } from '../sinks/types.js';
import type { Logger } from '../telemetry/logger.js';
import { counter, gauge } from '../telemetry/metrics.js';

export interface PipelineDeps {
  enricher: Enricher;
  engine: DetectionEngine;
  sinks: Sink[];
  registry: Registry;
  logger: Logger;
  /** Batches waiting before `push` makes sources wait. */
  queueBatches: number;
  /** Sees every record after enrichment (replay `--emit records`). */
  onRecords?: (batch: readonly FlowRecord[]) => void;
  /** Sees every incident change after the sinks confirmed it (replay output). */
  onChanges?: (changes: readonly IncidentChange[]) => void;
}

/**
 * enrich → detect → incidents → sinks, one batch at a time, in arrival order. `push` resolves
 * once the batch is queued; it waits while the queue is full (backpressure, never a drop).
 */
export class Pipeline implements RecordBatchSink {
  /** Batches and audit events in arrival order: the sinks see them in that order. */
  private readonly queue: (FlowRecord[] | AuditEvent)[] = [];
  private queuedBatches = 0;
  private readonly spaceWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private running = false;
  private enricher: Enricher;
  private failure: Error | undefined;
  /** Serializes detection and sink writes between the drain loop and ticks. */
  private serial: Promise<unknown> = Promise.resolve();
  /** Highest event time seen, epoch ms. */
  eventTime = 0;
  private readonly metrics;

  constructor(private readonly deps: PipelineDeps) {
    this.enricher = deps.enricher;
    const { registry } = deps;
    this.metrics = {
      records: counter(registry, 'pipeline_records_total', 'Records through enrichment, by outcome', ['outcome']),
      changes: counter(registry, 'incidents_total', 'Incident changes, by kind, severity and change', ['kind', 'severity', 'change']),
      queued: gauge(registry, 'pipeline_queued_batches', 'Batches waiting for detection'),
      waits: counter(registry, 'pipeline_backpressure_waits_total', 'Times a source waited for queue space'),
      eventTime: gauge(registry, 'pipeline_event_time_seconds', 'Newest event time processed'),
    };
  }

  /** Swap the enrichment rules (SIGHUP reload). Takes effect from the next batch. */
  replaceEnricher(enricher: Enricher): void {
    this.enricher = enricher;
  }

  async push(batch: FlowRecord[]): Promise<void> {
    if (this.failure) throw this.failure;
    if (batch.length === 0) return;
    while (this.queuedBatches >= this.deps.queueBatches) {
      this.metrics.waits.inc();
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      if (this.failure) throw this.failure;
    }
    this.queue.push(batch);
    this.queuedBatches++;
    this.metrics.queued.set(this.queuedBatches);
    if (!this.running) void this.drainLoop();
  }

  /** Hand an audit event to the sinks, in order with incident changes. */
  audit(event: AuditEvent): void {
    this.queue.push(event);
    if (!this.running) void this.drainLoop();
  }

  /** Resolves when every queued batch and audit event has been processed and written. */
  async idle(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.running && this.queue.length === 0) return;
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (!this.running) void this.drainLoop();
    await idle;
    if (this.failure) throw this.failure;
  }

  /** Advance event time without records (live mode: a quiet network still resolves incidents). */
  async tick(nowMs: number): Promise<void> {
    await this.exclusive(async () => {
      if (nowMs <= this.eventTime) return;
      this.eventTime = nowMs;
      await this.writeChanges(this.deps.engine.advance(nowMs));
    });
  }

  /** End of input: close every window and write what remains. */
  async finish(): Promise<void> {
    await this.idle();
    await this.exclusive(() => this.writeChanges(this.deps.engine.flush()));
  }

  get error(): Error | undefined {
    return this.failure;
  }

  private async drainLoop(): Promise<void> {
    this.running = true;
    try {
      for (;;) {
        const item = this.queue.shift();
        if (!item) break;
        if (!Array.isArray(item)) {
          // Consecutive audit events share one write.
          const entries: SinkEntry[] = [{ type: 'audit', event: item }];
          while (this.queue.length > 0 && !Array.isArray(this.queue[0])) entries.push({ type: 'audit', event: this.queue.shift() as AuditEvent });
          await this.exclusive(() => this.writeEntries(entries));
          continue;
        }
        this.queuedBatches--;
        this.metrics.queued.set(this.queuedBatches);
        this.spaceWaiters.shift()?.();
        await this.exclusive(() => this.process(item));
      }
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.deps.logger.error({ err: this.failure }, 'pipeline stopped: a sink could not write');
      for (const wake of this.spaceWaiters.splice(0)) wake();
    } finally {
      this.running = false;
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async process(batch: FlowRecord[]): Promise<void> {
    const { engine } = this.deps;
    const enricher = this.enricher;
    let egress = 0;
    let maxTs = this.eventTime;
    const egressRecords: FlowRecord[] = [];
    for (const rec of batch) {
      if (enricher.enrich(rec)) {
        egress++;
        engine.observe(rec);
        egressRecords.push(rec);
      }
      const t = rec.tsEnd > rec.ts ? rec.tsEnd : rec.ts;
      if (t > maxTs) maxTs = t;
    }
    this.metrics.records.inc({ outcome: 'egress' }, egress);
    if (batch.length > egress) this.metrics.records.inc({ outcome: 'not_egress' }, batch.length - egress);
    this.deps.onRecords?.(batch);
    for (const sink of this.deps.sinks) sink.observeRecords?.(egressRecords);
    if (maxTs > this.eventTime) {
      this.eventTime = maxTs;
      this.metrics.eventTime.set(maxTs / 1000);
    }
    await this.writeChanges(engine.advance(this.eventTime));
  }

  private async writeEntries(entries: SinkEntry[]): Promise<void> {
    await Promise.all(this.deps.sinks.map((s) => s.write(entries)));
  }

  private async writeChanges(changes: IncidentChange[]): Promise<void> {
    if (changes.length === 0) return;
    await this.writeEntries(changes.map((change) => ({ type: 'incident', change })));
    for (const { change, incident } of changes) {
      this.metrics.changes.inc({ kind: incident.kind, severity: incident.severity, change });
    }
    this.deps.onChanges?.(changes);
  }
}
