import { Readable } from 'node:stream';
import type { LineDecoder } from '../../decode/types.js';
import { DecodeError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import { silentLogger } from '../../telemetry/logger.js';
import { createRegistry, sourceMetrics } from '../../telemetry/metrics.js';
import { replayLines } from './replay.js';

/** What a replay produced: every record, the rejected lines by reason, the bytes read. */
export interface ReplayOutcome {
  records: FlowRecord[];
  batches: number;
  errors: Record<string, number>;
  bytes: number;
}

/** Replay an input into memory and read the counters back (tests, golden files, tools). */
export async function collectReplay(input: Readable | string | Buffer, decoder: LineDecoder, sourceId = 'test'): Promise<ReplayOutcome> {
  const registry = createRegistry();
  const metrics = sourceMetrics(registry);
  const records: FlowRecord[] = [];
  let batches = 0;
  const stream = typeof input === 'string' || Buffer.isBuffer(input) ? Readable.from([Buffer.from(input)]) : input;
  await replayLines(stream, decoder, {
    sourceId,
    metrics,
    logger: silentLogger(),
    out: {
      push: async (batch) => {
        batches++;
        for (const r of batch) records.push(r);
      },
    },
  });
  const errors: Record<string, number> = {};
  for (const v of (await metrics.errors.get()).values) {
    const reason = String(v.labels.reason);
    errors[reason] = (errors[reason] ?? 0) + v.value;
  }
  let bytes = 0;
  for (const v of (await metrics.bytes.get()).values) bytes += v.value;
  return { records, batches, errors, bytes };
}

/** Stable JSON lines for golden files: records in order, then one summary line. */
export function goldenText(outcome: ReplayOutcome): string {
  const lines = outcome.records.map((r) => JSON.stringify(r));
  const errors = Object.fromEntries(Object.entries(outcome.errors).sort(([a], [b]) => a.localeCompare(b)));
  lines.push(JSON.stringify({ summary: { records: outcome.records.length, errors } }));
  return lines.join('\n') + '\n';
}

/** The `DecodeError` reason `fn` throws, or undefined when it returns; other errors propagate. */
export function reasonOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof DecodeError) return err.reason;
    throw err;
  }
  return undefined;
}
