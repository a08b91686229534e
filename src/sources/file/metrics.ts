import type { Registry } from 'prom-client';
import { counter } from '../../telemetry/metrics.js';

/** Counters of the file tailer, on top of the shared source counters. */
export function fileSourceMetrics(registry: Registry) {
  return {
    rotations: counter(registry, 'file_source_rotations_total', 'Tailed files replaced by rename, truncated, or found elsewhere after a restart', [
      'source',
      'id',
      'kind',
    ]),
    checkpoints: counter(registry, 'file_source_checkpoints_total', 'Checkpoints written for tailed files', ['source', 'id']),
    ioErrors: counter(registry, 'file_source_io_errors_total', 'Failed reads, stats or checkpoint writes of tailed files', ['source', 'id']),
  };
}
export type FileSourceMetrics = ReturnType<typeof fileSourceMetrics>;
