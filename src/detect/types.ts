import type { FlowRecord } from '../record.js';
import type { IncidentChange } from '../incidents/types.js';

/**
 * Detection and incident lifecycle as the pipeline sees it. Time comes from records only
 * (event time), so replay is deterministic.
 */
export interface DetectionEngine {
  /** Load the state snapshot from the state directory, if any. */
  open(): Promise<void>;
  /** An enriched record. Hot path: no I/O, bounded state. */
  observe(record: FlowRecord): void;
  /** Event time has reached `nowMs`: close windows, return incident changes. */
  advance(nowMs: number): IncidentChange[];
  /** End of input: close every window, return the remaining changes. */
  flush(): IncidentChange[];
  /** Write the state snapshot (shutdown, periodic). */
  save(): Promise<void>;
}
