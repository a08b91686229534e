import type { Registry } from 'prom-client';
import type { Logger } from '../telemetry/logger.js';
import type { AuditEvent } from '../sinks/types.js';

/**
 * Every long-lived part of the daemon. Construction is inert (no sockets, timers or files);
 * `start` acquires resources, `stop` releases them. Components start in order, stop in reverse.
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What every component is handed at construction. No globals, no container. */
export interface CommonDeps {
  logger: Logger;
  registry: Registry;
  /** Directory for checkpoints, spools, snapshots and the journal. */
  stateDir: string;
  /** Report an error the component cannot recover from; the supervisor stops the daemon. */
  onFatal: (err: Error) => void;
  /** Record a daemon audit event (checkpoint, reload...) in the journal. */
  audit: (event: AuditEvent) => void;
}
