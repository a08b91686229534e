import type { Component, CommonDeps } from '../daemon/component.js';
import type { FlowRecord } from '../record.js';

/** Where a source hands decoded records. Awaiting `push` is the backpressure. */
export interface RecordBatchSink {
  push(batch: FlowRecord[]): Promise<void>;
}

export interface Source extends Component {
  /** Finite sources (replay of a file) resolve this once every record has been pushed. */
  readonly finished?: Promise<void>;
}

export interface SourceDeps extends CommonDeps {
  out: RecordBatchSink;
}

/**
 * An input on an open file descriptor, standard input above all (`tcpdump -w - | egressd …`): the
 * packet source reads a pipe straight into its packet core, with no stream and no Buffer per read.
 * `process.stdin` must not be created for the same descriptor.
 */
export interface InputDescriptor {
  readonly fd: number;
}

export const STANDARD_INPUT: InputDescriptor = Object.freeze({ fd: 0 });

/** A descriptor, not a stream (file streams have an `fd` too). */
export function isInputDescriptor(input: object): input is InputDescriptor {
  return typeof (input as InputDescriptor).fd === 'number' && typeof (input as { read?: unknown }).read !== 'function';
}

/** The formats `replay` understands; `--format` names one of them. */
export type FormatName = 'pcap' | 'netflow' | 'squid' | 'zeek' | 'vpc';

import type { Logger } from '../telemetry/logger.js';
import type { SourceMetrics } from '../telemetry/metrics.js';

/** What a whole-input reader (replay of a file or stdin) is handed. */
export interface ReplayContext {
  /** Identity for records' `source.id` and metric labels (usually the file name). */
  sourceId: string;
  out: RecordBatchSink;
  metrics: SourceMetrics;
  logger: Logger;
  /** Aborted on SIGTERM: stop reading, push what was decoded, resolve. */
  signal?: AbortSignal;
}
