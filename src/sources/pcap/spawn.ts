// Starting a capture replay worker thread, kept apart from the rest of the worker's handling so
// the CLI's launcher can start one before it loads the CLI itself (see src/cli/early-replay.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { FromWorker, WorkerInput } from './worker-protocol.js';

// The tsc build has worker.js beside this module; the one-file CLI (deploy/build-cli.mjs) defines its own worker's file.
declare const EGRESSD_BUNDLED_PCAP_WORKER: string | undefined;
const WORKER_URL = new URL(typeof EGRESSD_BUNDLED_PCAP_WORKER === 'string' ? EGRESSD_BUNDLED_PCAP_WORKER : './worker.js', import.meta.url);

/**
 * Batches in flight between the threads (256 records each, some 25 KB packed): enough for the
 * worker to run ahead while the main thread starts up (128k records, more than a 1M-packet
 * capture holds), few enough to bound memory.
 */
const MAX_UNACKNOWLEDGED = 512;

/** True when the worker can run here (the built code; not when running from TypeScript sources). */
export function pcapWorkerAvailable(): boolean {
  return WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL));
}

/**
 * Whether capture files are read and assembled on a worker thread while this thread enriches and
 * detects: by default when the host has two CPUs or more; EGRESSD_PCAP_WORKER=1 or 0 decides
 * otherwise. On 2 cores (Node.js 26, replays without TurboFan) a 1M-packet replay took 0.43 s
 * against 0.50 s on one thread, for 0.09 CPU-s and 9 MB more; small captures take as long either
 * way (bench/pcap.ts).
 */
export function pcapWorkerWanted(): boolean {
  const setting = process.env.EGRESSD_PCAP_WORKER;
  if (setting === '1' || setting === '0') return setting === '1';
  return availableParallelism() >= 2;
}

export type WorkerEvent = FromWorker | { t: 'failed'; message: string } | { t: 'exit'; code: number };

/** A capture replay worker, started at construction, its events held until they are taken. */
export class SpawnedPcapWorker {
  readonly worker: Worker;
  private readonly held: WorkerEvent[] = [];
  private deliver: ((event: WorkerEvent) => void) | undefined;

  constructor(
    readonly path: string,
    readonly sourceId: string = basename(path),
  ) {
    const workerInput: WorkerInput = { path, sourceId, maxUnacknowledged: MAX_UNACKNOWLEDGED };
    // Loaded here, not with this module: replays on one thread never load worker_threads.
    const threads = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
    // The worker writes nothing to its stdout or stderr (it posts its logs): they are not piped to
    // this process's, which spares setting up those pipes as it starts. It reads no environment
    // this process would change: it shares it rather than taking a copy.
    this.worker = new threads.Worker(WORKER_URL, { workerData: workerInput, stdout: true, stderr: true, env: threads.SHARE_ENV });
    const hold = (event: WorkerEvent): void => {
      if (this.deliver) this.deliver(event);
      else this.held.push(event);
    };
    this.worker.on('message', (message: FromWorker) => hold(message));
    this.worker.on('error', (err) => hold({ t: 'failed', message: err.message }));
    // Messages posted just before the exit are dispatched first.
    this.worker.on('exit', (code) => setImmediate(() => hold({ t: 'exit', code })));
  }

  get taken(): boolean {
    return this.deliver !== undefined;
  }

  /** Events go to `deliver` from now on, those held so far first. */
  take(deliver: (event: WorkerEvent) => void): void {
    if (this.deliver) throw new Error('a capture replay worker is taken once');
    this.deliver = deliver;
    for (const event of this.held.splice(0)) deliver(event);
  }

  /** Stop a worker nobody took (the command never reached its replay). */
  discard(): void {
    if (!this.taken) void this.worker.terminate();
  }
}
