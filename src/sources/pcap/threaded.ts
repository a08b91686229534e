// Replay of a capture file on a worker thread: reading, framing and flow assembly run on a
// second core while this thread enriches, detects and writes. Same records, same order, same
// metrics as `replayPcap` (with the default packet-source config) in this thread.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DecodeError, EgressdError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import type { ReplayContext } from '../types.js';
import type { PcapMetrics } from './metrics.js';
import { RecordUnpacker } from './transfer.js';
import type { FromWorker, MetricOp, WorkerError, WorkerInput } from './worker-protocol.js';

// The tsc build has worker.js beside this module; the one-file CLI (deploy/build-cli.mjs) defines its own worker's file.
declare const EGRESSD_BUNDLED_PCAP_WORKER: string | undefined;
const WORKER_URL = new URL(typeof EGRESSD_BUNDLED_PCAP_WORKER === 'string' ? EGRESSD_BUNDLED_PCAP_WORKER : './worker.js', import.meta.url);
/**
 * Batches in flight between the threads (512 records each, some 50 KB packed): enough for the
 * worker to run ahead while the main thread starts up (128k records, more than a 1M-packet
 * capture holds), few enough to bound memory.
 */
const MAX_UNACKNOWLEDGED = 256;

/** True when the worker can run here (the built code; not when running from TypeScript sources). */
export function pcapWorkerAvailable(): boolean {
  return WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL));
}

interface Updatable {
  inc?(labels: Record<string, string>, value: number): void;
  set?(labels: Record<string, string>, value: number): void;
}

type WorkerEvent = FromWorker | { t: 'failed'; message: string } | { t: 'exit'; code: number };

function errorFromWorker(e: WorkerError): Error {
  if (e.reason !== undefined) return new DecodeError(e.reason, e.message);
  if (e.code !== undefined) return new EgressdError(e.code as ErrorCode, e.message);
  return new EgressdError('IO', e.message);
}

/**
 * A capture file replay on its own thread. The worker starts reading at construction (so it
 * overlaps the main thread's start-up) and holds at most a few batches until `run` takes them.
 */
export class PcapWorkerReplay {
  private readonly worker: Worker;
  private readonly early: WorkerEvent[] = [];
  private onEvent: ((event: WorkerEvent) => void) | undefined;
  private started = false;

  constructor(
    readonly path: string,
    readonly sourceId: string,
  ) {
    const workerInput: WorkerInput = { path, sourceId, maxUnacknowledged: MAX_UNACKNOWLEDGED };
    this.worker = new Worker(WORKER_URL, { workerData: workerInput });
    const deliver = (event: WorkerEvent): void => {
      if (this.onEvent) this.onEvent(event);
      else this.early.push(event);
    };
    this.worker.on('message', (message: FromWorker) => deliver(message));
    this.worker.on('error', (err) => deliver({ t: 'failed', message: err.message }));
    // Messages posted just before the exit are dispatched first.
    this.worker.on('exit', (code) => setImmediate(() => deliver({ t: 'exit', code })));
  }

  /** Stop a replay that will not be run (e.g. the command failed before reaching it). */
  cancel(): void {
    if (!this.started) void this.worker.terminate();
  }

  /** Push the worker's records to `ctx.out` in capture order; resolves at the end of the input. */
  run(ctx: ReplayContext, pcapMetrics?: PcapMetrics): Promise<void> {
    if (this.started) throw new Error('a capture replay worker runs once');
    this.started = true;
    const worker = this.worker;
    const targets = new Map<string, Updatable>(Object.entries(ctx.metrics));
    if (pcapMetrics) for (const [name, metric] of Object.entries(pcapMetrics)) targets.set(name, metric);
    const apply = (ops: MetricOp[]): void => {
      for (const op of ops) {
        const metric = targets.get(op.metric);
        if (op.kind === 'inc') metric?.inc?.(op.labels, op.value);
        else metric?.set?.(op.labels, op.value);
      }
    };
    const unpacker = new RecordUnpacker();
    const onAbort = (): void => worker.postMessage({ t: 'abort' });
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal?.aborted) onAbort();

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        ctx.signal?.removeEventListener('abort', onAbort);
        void worker.terminate();
        if (err) reject(err);
        else resolve();
      };
      // Events are handled one after another: records reach the pipeline in capture order.
      let previous: Promise<void> = Promise.resolve();
      const handle = async (event: WorkerEvent): Promise<void> => {
        switch (event.t) {
          case 'batch':
          case 'records':
            apply(event.ops);
            await ctx.out.push(event.t === 'batch' ? unpacker.unpack(event.packed) : event.records);
            worker.postMessage({ t: 'ack' });
            return;
          case 'log':
            (ctx.logger[event.level as keyof Logger] as (obj: unknown, msg?: string) => void).call(ctx.logger, event.obj, event.msg);
            return;
          case 'done':
            apply(event.ops);
            return settle();
          case 'error':
            apply(event.ops);
            return settle(errorFromWorker(event.error));
          case 'failed':
            return settle(new EgressdError('IO', `${ctx.sourceId}: capture replay worker failed: ${event.message}`));
          case 'exit':
            return settle(new EgressdError('IO', `${ctx.sourceId}: capture replay worker exited (code ${event.code}) before the end of input`));
        }
      };
      this.onEvent = (event) => {
        previous = previous.then(() => handle(event)).catch((err: unknown) => settle(err instanceof Error ? err : new Error(String(err))));
      };
      for (const event of this.early.splice(0)) this.onEvent(event);
    });
  }
}
