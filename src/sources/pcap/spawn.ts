// Starting a capture replay worker thread, kept apart from the rest of the worker's handling so
// the CLI's launcher can start one before it loads the CLI itself (see src/cli/early-replay.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { FromWorker, WorkerInput } from './worker-protocol.js';

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

/**
 * Whether capture files are read and assembled on a worker thread while this thread enriches and
 * detects: only with EGRESSD_PCAP_WORKER=1. Since framing, decoding and the flow table run in the
 * packet core (WebAssembly), one thread is faster: on 2 cores a 1M-packet replay took 0.82 s and
 * 1.12 CPU-s on one thread against 0.89 s and 1.42 CPU-s with the worker, which starts a second
 * V8 isolate, compiles the identification a second time and packs every record (bench/pcap.ts).
 */
export function pcapWorkerWanted(): boolean {
  return process.env.EGRESSD_PCAP_WORKER === '1';
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
    // Loaded here, not with this module: replays on one thread (the default) never load worker_threads.
    const { Worker: WorkerThread } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
    this.worker = new WorkerThread(WORKER_URL, { workerData: workerInput });
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
