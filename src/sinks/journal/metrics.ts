import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../telemetry/metrics.js';

/** Failure reasons, a closed set. */
export type JournalErrorReason = 'write' | 'fsync' | 'rotate' | 'open' | 'broken' | 'encode';

export function journalMetrics(registry: Registry) {
  return {
    entries: counter(registry, 'journal_entries_total', 'Entries made durable in the journal', ['type']),
    bytes: counter(registry, 'journal_bytes_total', 'Bytes made durable in the journal'),
    fsyncs: counter(registry, 'journal_fsyncs_total', 'fdatasync calls on journal files (one per group commit)'),
    fsyncSeconds: histogram(registry, 'journal_fsync_seconds', 'Duration of one journal fdatasync', [], [
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    ]),
    rotations: counter(registry, 'journal_rotations_total', 'Journal files closed for size and a new one started'),
    errors: counter(registry, 'journal_errors_total', 'Journal failures by reason', ['reason']),
    pending: gauge(registry, 'journal_pending_entries', 'Entries accepted by the journal and not yet fsync\'d'),
    recoveredBytes: counter(registry, 'journal_recovered_bytes_total', 'Bytes of torn tails cut off when the journal opened'),
  };
}
export type JournalMetrics = ReturnType<typeof journalMetrics>;
