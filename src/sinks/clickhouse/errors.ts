// Insert failures are either retriable (the batch is spooled and replayed) or permanent (the
// batch is written to the dead-letter file and counted, never retried).
//
// ClickHouse answers every server-side exception with HTTP 500, so the status alone says
// nothing: the exception code decides. Unknown codes count as retriable so that data is never
// thrown away because of a server condition we did not foresee; only the data's own faults
// (it does not parse, does not fit the column type, names a missing column) are permanent.

export type ErrorClass = 'retriable' | 'permanent';

/** ClickHouse exception codes caused by the rows themselves. */
const PERMANENT_CODES = new Set<number>([
  6, // CANNOT_PARSE_TEXT
  16, // NO_SUCH_COLUMN_IN_TABLE
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF
  33, // CANNOT_READ_ALL_DATA
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  43, // ILLEGAL_TYPE_OF_ARGUMENT
  53, // TYPE_MISMATCH
  62, // SYNTAX_ERROR
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  73, // UNKNOWN_FORMAT
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  1001, // STD_EXCEPTION (e.g. out-of-range values in JSON)
]);

/** Node socket errors: the server is unreachable or the connection broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export interface Classified {
  kind: ErrorClass;
  /** Short closed-set reason for the metric label: `network`, `timeout`, `server`, `data`, `http_4xx`, `unknown`. */
  reason: string;
  /** ClickHouse exception code when the server sent one. */
  serverCode?: number;
}

/** The ClickHouse exception code in an error, from the client's parsed error or the message text (18.16 style). */
export function serverCodeOf(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && /^\d+$/.test(e.code)) return Number(e.code);
  if (typeof e.message === 'string') {
    const m = /(?:^|\b)Code: (\d+)/.exec(e.message);
    if (m) return Number(m[1]);
  }
  return undefined;
}

export function classifyError(err: unknown): Classified {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; statusCode?: unknown; cause?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return { kind: 'retriable', reason: 'network' };
  const cause = e.cause as { code?: unknown } | undefined;
  if (cause && typeof cause.code === 'string' && NETWORK_CODES.has(cause.code)) return { kind: 'retriable', reason: 'network' };
  if (/timeout/i.test(message) && serverCodeOf(err) === undefined) return { kind: 'retriable', reason: 'timeout' };
  if (/socket hang up|other side closed|ECONNRESET|ECONNREFUSED/.test(message)) return { kind: 'retriable', reason: 'network' };
  const serverCode = serverCodeOf(err);
  if (serverCode !== undefined) {
    if (PERMANENT_CODES.has(serverCode)) return { kind: 'permanent', reason: 'data', serverCode };
    return { kind: 'retriable', reason: 'server', serverCode };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return { kind: 'permanent', reason: 'http_4xx' };
  }
  return { kind: 'retriable', reason: 'unknown' };
}
