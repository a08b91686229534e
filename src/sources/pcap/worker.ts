// Worker thread of a capture file replay: reads, frames and assembles flows on its own core,
// posting flow records to the main thread, which enriches and detects. The main thread acks each
// batch once it has pushed it, and the worker keeps at most a few batches unacknowledged: the
// pipeline's backpressure reaches the file reads.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { FlowRecord } from '../../record.js';
import type { Logger } from '../../telemetry/logger.js';
import type { SourceMetrics } from '../../telemetry/metrics.js';
import { PCAP_REPLAY_DEFAULTS } from './defaults.js';
import type { PcapMetrics } from './metrics.js';
import { replayCapture } from './replay.js';
import { RecordPacker } from './transfer.js';
import { MetricOps, postBatch, type FromWorker, type ToWorker, type WorkerInput } from './worker-protocol.js';

if (parentPort === null) throw new Error('the capture replay worker runs as a worker thread');
const port: MessagePort = parentPort;
const input = workerData as WorkerInput;
const ops = new MetricOps();
const packer = new RecordPacker();
const abort = new AbortController();
let unacknowledged = 0;
let wakeOnAck: (() => void) | undefined;

const post = (message: FromWorker): void => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  if (message.t === 'ack') {
    unacknowledged--;
    const wake = wakeOnAck;
    wakeOnAck = undefined;
    wake?.();
  } else abort.abort();
});

function forwardingLogger(): Logger {
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      // pino's (msg) form as well as (obj, msg)
      if (typeof obj === 'string') post({ t: 'log', level, obj: {}, msg: obj });
      else post({ t: 'log', level, obj, msg });
    };
  const logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), child: () => logger };
  return logger as unknown as Logger;
}

async function main(): Promise<void> {
  await replayCapture(
    { path: input.path },
    {
      sourceId: input.sourceId,
      out: {
        push: async (batch: FlowRecord[]) => {
          while (unacknowledged >= input.maxUnacknowledged) await new Promise<void>((resolve) => (wakeOnAck = resolve));
          unacknowledged++;
          const packed = packer.pack(batch, true);
          if (packed === undefined) post({ t: 'records', records: batch, ops: ops.take() });
          else postBatch(port, packed, ops.take());
        },
      },
      metrics: ops.sourceMetrics() as unknown as SourceMetrics,
      logger: forwardingLogger(),
      signal: abort.signal,
    },
    { ...PCAP_REPLAY_DEFAULTS, path: input.path },
    { pcapMetrics: ops.pcapMetrics() as unknown as PcapMetrics },
  );
}

main().then(
  () => {
    post({ t: 'done', ops: ops.take() });
    port.close();
  },
  (err: unknown) => {
    const e = err as { name?: string; code?: string; reason?: string; message?: string };
    post({ t: 'error', error: { name: e.name ?? 'Error', code: e.code, reason: e.reason, message: e.message ?? String(err) }, ops: ops.take() });
    port.close();
  },
);
