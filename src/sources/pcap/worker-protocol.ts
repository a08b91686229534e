// Messages between a capture replay worker and the main thread, and the metric updates the
// worker records for the main thread to apply to the real registry.
import type { MessagePort } from 'node:worker_threads';
import type { FlowRecord } from '../../record.js';
import type { PackedRecords } from './transfer.js';

export interface WorkerInput {
  path: string;
  sourceId: string;
  /** Batches posted and not yet acknowledged before the worker waits. */
  maxUnacknowledged: number;
}

/** One metric update: `inc` adds to a counter, `set` sets a gauge. */
export interface MetricOp {
  metric: string;
  kind: 'inc' | 'set';
  labels: Record<string, string>;
  value: number;
}

export interface WorkerError {
  name: string;
  code?: string;
  reason?: string;
  message: string;
}

export type FromWorker =
  | { t: 'batch'; packed: PackedRecords; ops: MetricOp[] }
  | { t: 'records'; records: FlowRecord[]; ops: MetricOp[] }
  | { t: 'log'; level: string; obj: unknown; msg?: string }
  | { t: 'done'; ops: MetricOp[] }
  | { t: 'error'; error: WorkerError; ops: MetricOp[] };

export type ToWorker = { t: 'ack' } | { t: 'abort' };

/**
 * Post a packed batch, its arrays copied rather than transferred: the first ArrayBuffer a thread
 * detaches makes V8 throw away every optimized function that reads a typed array (all the
 * decoders) and compile them again with detach checks. Copying some 50 KB per batch costs less:
 * a 1M-packet replay took 0.94 s instead of 0.99 s, 1.55 instead of 1.63 CPU-s (five runs each,
 * taken in turn).
 */
export function postBatch(port: Pick<MessagePort, 'postMessage'>, packed: PackedRecords, ops: MetricOp[]): void {
  port.postMessage({ t: 'batch', packed, ops } satisfies FromWorker);
}

/**
 * Counters and gauges with the prom-client calls the packet source makes, recording them. Calls on
 * one series between two `take`s become one operation (increments summed, the last value set):
 * the source updates its metrics per file chunk, the main thread needs them once per batch.
 */
export class MetricOps {
  private ops = new Map<string, MetricOp>();

  private record(metric: string, kind: 'inc' | 'set', labels: Record<string, string>, value: number): void {
    let series = metric;
    for (const name in labels) series += `\u0000${name}=${labels[name]}`;
    const op = this.ops.get(series);
    if (op === undefined) this.ops.set(series, { metric, kind, labels, value });
    else op.value = kind === 'inc' ? op.value + value : value;
  }

  private metric(metric: string) {
    return {
      inc: (labels: Record<string, string>, value = 1) => this.record(metric, 'inc', labels, value),
      set: (labels: Record<string, string>, value: number) => this.record(metric, 'set', labels, value),
    };
  }

  /** Stand-ins named as the fields of SourceMetrics. */
  sourceMetrics() {
    return { records: this.metric('records'), bytes: this.metric('bytes'), errors: this.metric('errors'), lag: this.metric('lag') };
  }

  /** Stand-ins named as the fields of PcapMetrics. */
  pcapMetrics() {
    const names = ['packets', 'skipped', 'fragments', 'flowsEnded', 'evicted', 'trackedFlows', 'knownPeers', 'dnsNames'];
    return Object.fromEntries(names.map((n) => [n, this.metric(n)]));
  }

  take(): MetricOp[] {
    const taken = [...this.ops.values()];
    this.ops.clear();
    return taken;
  }
}
