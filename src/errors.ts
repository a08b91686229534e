// One error root with stable codes: callers branch on `code`, never on messages.

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'RULES_INVALID'
  | 'USAGE'
  | 'DECODE'
  | 'IO'
  | 'JOURNAL_BROKEN'
  | 'JOURNAL_WRITE'
  | 'SINK_RETRIABLE'
  | 'SINK_PERMANENT'
  | 'SHUTDOWN';

export class EgressdError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'EgressdError';
  }
}

/** A record or packet that cannot be decoded. Counted by `reason` and dropped, never fatal. */
export class DecodeError extends EgressdError {
  readonly reason: string;
  constructor(reason: string, message?: string) {
    super('DECODE', message ?? reason);
    this.reason = reason;
    this.name = 'DecodeError';
  }
}

/** Errors that stop the daemon through the supervisor (e.g. the journal cannot be written). */
export class FatalError extends EgressdError {
  override readonly name = 'FatalError';
}

export function isEgressdError(err: unknown): err is EgressdError {
  return err instanceof EgressdError;
}
