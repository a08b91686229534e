import type { Readable } from 'node:stream';
import type { LineDecoder } from '../../decode/types.js';
import type { ReplayContext } from '../types.js';
import { LineBatcher, decoderFormat, readsBytes } from './batcher.js';
import { DEFAULT_MAX_LINE_BYTES, LineRanges, LineSplitter } from './lines.js';

export interface ReplayLinesOptions {
  /** Metric label `source`; defaults to the decoder's own `format`. */
  format?: string;
  maxLineBytes?: number;
}

/**
 * Read a whole line-oriented input (file or stdin) through a decoder, pushing batches of about
 * BATCH_SIZE records and awaiting each push (backpressure). Rejected lines are counted, never
 * thrown; only a failing `push` rejects. When `ctx.signal` aborts, what was decoded is pushed
 * and the promise resolves.
 */
export async function replayLines(
  input: Readable,
  decoder: LineDecoder,
  ctx: ReplayContext,
  options: ReplayLinesOptions = {},
): Promise<void> {
  const format = options.format ?? decoderFormat(decoder);
  const batcher = new LineBatcher(decoder, ctx.metrics, format, ctx.sourceId, ctx.logger);
  const splitter = new LineSplitter(options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const signal = ctx.signal;
  const byteMode = readsBytes(decoder);
  const lines: string[] = [];
  const ranges = new LineRanges();

  const feed = (chunk: Buffer) => (byteMode ? splitter.feedRanges(chunk, ranges) : splitter.feed(chunk, lines));
  const end = () => (byteMode ? splitter.endRanges(ranges) : splitter.end(lines));
  const decodeLines = async (): Promise<void> => {
    batcher.countError('line_too_long', splitter.takeTooLong());
    if (byteMode) {
      if (ranges.joined) batcher.decodeBytes(ranges.joined, 0, ranges.joined.length);
      const { buf, starts, ends, count } = ranges;
      for (let i = 0; i < count; i++) {
        batcher.decodeBytes(buf, starts[i]!, ends[i]!);
        if (batcher.full) await ctx.out.push(batcher.take());
      }
      ranges.clear(buf);
      return;
    }
    for (let i = 0; i < lines.length; i++) {
      batcher.decode(lines[i]!);
      if (batcher.full) await ctx.out.push(batcher.take());
    }
    lines.length = 0;
  };

  // Stop waiting for more input as soon as the signal aborts (stdin may never end).
  let aborted = signal?.aborted ?? false;
  const onAbort = () => {
    aborted = true;
    input.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      for await (const chunk of input) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        batcher.countBytes(bytes.length);
        feed(bytes);
        await decodeLines();
        if (aborted) break;
      }
    } catch (err) {
      // Destroying the input on abort ends the iteration with an error: that is the stop.
      if (!aborted) throw err;
    }
    if (!aborted) end();
    await decodeLines();
    if (batcher.batch.length > 0) await ctx.out.push(batcher.take());
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
