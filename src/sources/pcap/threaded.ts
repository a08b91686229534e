// Replay of a capture file on a worker thread: reading, framing and flow assembly run on a
// second core while this thread enriches, detects and writes. Same records, same order, same
// metrics as `replayPcap` (with the default packet-source config) in this thread.
import { DecodeError, EgressdError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import type { ReplayContext } from '../types.js';
import type { PcapMetrics } from './metrics.js';
import { RecordUnpacker } from './transfer.js';
import { SpawnedPcapWorker, type WorkerEvent } from './spawn.js';
import type { MetricOp, WorkerError } from './worker-protocol.js';

export { pcapWorkerAvailable } from './spawn.js';

interface Updatable {
  inc?(labels: Record<string, string>, value: number): void;
  set?(labels: Record<string, string>, value: number): void;
}

function errorFromWorker(e: WorkerError): Error {
  if (e.reason !== undefined) return new DecodeError(e.reason, e.message);
  if (e.code !== undefined) return new EgressdError(e.code as ErrorCode, e.message);
  return new EgressdError('IO', e.message);
}

/**
 * A capture file replay on its own thread. The worker starts reading as soon as it is spawned (so
 * it overlaps the main thread's start-up) and holds at most a few batches until `run` takes them.
 */
export class PcapWorkerReplay {
  private started = false;

  /** Replay `path` on a new worker, or on `spawned`, a worker already started for it. */
  constructor(
    readonly path: string,
    readonly sourceId: string,
    private readonly spawned: SpawnedPcapWorker = new SpawnedPcapWorker(path, sourceId),
  ) {
    if (spawned.path !== path || spawned.sourceId !== sourceId) throw new Error(`capture replay worker started for ${spawned.path}, not ${path}`);
  }

  /** Stop a replay that will not be run (e.g. the command failed before reaching it). */
  cancel(): void {
    if (!this.started) this.spawned.discard();
  }

  /** Push the worker's records to `ctx.out` in capture order; resolves at the end of the input. */
  run(ctx: ReplayContext, pcapMetrics?: PcapMetrics): Promise<void> {
    if (this.started) throw new Error('a capture replay worker runs once');
    this.started = true;
    const worker = this.spawned.worker;
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
      this.spawned.take((event) => {
        previous = previous.then(() => handle(event)).catch((err: unknown) => settle(err instanceof Error ? err : new Error(String(err))));
      });
    });
  }
}
