import type { Counter } from 'prom-client';
import { DecodeError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import type { LineDecoder } from '../../decode/types.js';
import { RateLimitedLog, type Logger } from '../../telemetry/logger.js';
import type { SourceMetrics } from '../../telemetry/metrics.js';

/** Records per pushed batch: large enough to amortise the push, small enough to bound memory. */
export const BATCH_SIZE = 1024;

/** A decoder that can read a line straight from the bytes of a chunk (no string per line). */
export interface ByteLineDecoder extends LineDecoder {
  decodeBytes(buf: Buffer, start: number, end: number, out: FlowRecord[]): void;
}

export function readsBytes(decoder: LineDecoder): decoder is ByteLineDecoder {
  return typeof (decoder as Partial<ByteLineDecoder>).decodeBytes === 'function';
}

/** A decoder's name for metric labels, when it says (`zeek`, `vpc`, `squid`). */
export function decoderFormat(decoder: LineDecoder, fallback = 'lines'): string {
  const format = (decoder as { format?: unknown }).format;
  return typeof format === 'string' ? format : fallback;
}

/**
 * Runs lines through a decoder into batches and keeps the counts: records and bytes per
 * source, rejected lines by reason. A decoder bug (any other exception) is counted as
 * `decoder_exception` and logged, rate-limited: bad input never stops a source.
 */
export class LineBatcher {
  batch: FlowRecord[] = [];
  private readonly errorCounters = new Map<string, Counter.Internal>();
  private readonly recordCounter: Counter.Internal;
  private readonly byteCounter: Counter.Internal;
  private readonly rateLimited: RateLimitedLog;
  /** Totals since construction, for callers that report them (replay summaries, tests). */
  records = 0;
  errors = 0;

  constructor(
    private decoder: LineDecoder,
    private readonly metrics: SourceMetrics,
    private readonly format: string,
    private readonly id: string,
    logger: Logger,
  ) {
    this.recordCounter = metrics.records.labels({ source: format, id });
    this.byteCounter = metrics.bytes.labels({ source: format, id });
    this.rateLimited = new RateLimitedLog(logger);
  }

  get full(): boolean {
    return this.batch.length >= BATCH_SIZE;
  }

  get currentDecoder(): LineDecoder {
    return this.decoder;
  }

  /** A new input (rotated file) starts with a fresh decoder: its header state is its own. */
  replaceDecoder(decoder: LineDecoder): void {
    this.decoder = decoder;
  }

  decode(line: string): void {
    try {
      this.decoder.decodeLine(line, this.batch);
    } catch (err) {
      if (err instanceof DecodeError) this.countError(err.reason);
      else {
        this.countError('decoder_exception');
        this.rateLimited.warn(`${this.format}:decoder_exception`, { err, source: this.format, id: this.id }, 'decoder threw on a line');
      }
    }
  }

  /** The byte form; only for a decoder for which `readsBytes` holds. */
  decodeBytes(buf: Buffer, start: number, end: number): void {
    try {
      (this.decoder as ByteLineDecoder).decodeBytes(buf, start, end, this.batch);
    } catch (err) {
      if (err instanceof DecodeError) this.countError(err.reason);
      else {
        this.countError('decoder_exception');
        this.rateLimited.warn(`${this.format}:decoder_exception`, { err, source: this.format, id: this.id }, 'decoder threw on a line');
      }
    }
  }

  countError(reason: string, n = 1): void {
    if (n <= 0) return;
    let child = this.errorCounters.get(reason);
    if (!child) {
      child = this.metrics.errors.labels({ source: this.format, id: this.id, reason });
      this.errorCounters.set(reason, child);
    }
    child.inc(n);
    this.errors += n;
  }

  countBytes(n: number): void {
    if (n > 0) this.byteCounter.inc(n);
  }

  /** Hand over the current batch (counted as produced) and start a new one. */
  take(): FlowRecord[] {
    const batch = this.batch;
    this.batch = [];
    if (batch.length > 0) {
      this.recordCounter.inc(batch.length);
      this.records += batch.length;
    }
    return batch;
  }
}
