import type { Component } from '../daemon/component.js';
import type { FlowRecord } from '../record.js';
import type { IncidentChange } from '../incidents/types.js';

/** The daemon's own facts for the audit trail. */
export interface AuditEvent {
  /** `start`, `stop`, `rules_loaded`, `rules_reloaded`, `checkpoint`, `triage`, ... */
  action: string;
  /** Event wall-clock time, epoch ms. */
  at: number;
  [key: string]: unknown;
}

export type SinkEntry =
  | { type: 'incident'; change: IncidentChange }
  | { type: 'audit'; event: AuditEvent };

/**
 * A sink acknowledges (resolves `write`) only once the entries are durable, or spooled to
 * disk to be replayed. A rejection means the entries were neither written nor spooled.
 */
export interface Sink extends Component {
  write(entries: readonly SinkEntry[]): Promise<void>;
  /** Enriched records, for sinks that keep flow aggregates. Synchronous and cheap: hot path. */
  observeRecords?(batch: readonly FlowRecord[]): void;
  /** Force out whatever is buffered (shutdown, end of replay). */
  flush(): Promise<void>;
}
