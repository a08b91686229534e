// A bounded bencode reader for DHT (KRPC) messages. It builds no tree: it walks the message once
// and notes where the few fields a KRPC matcher reads lie. Dictionary keys may come in any order
// (some clients send `d1:q…` first) and the last of a repeated key wins; depth and item count
// are capped; a message that is not well formed anywhere is no message at all.

const MAX_DEPTH = 8;
const MAX_ITEMS = 512;

const DICT = 0x64; // d
const LIST = 0x6c; // l
const INT = 0x69; // i
const END = 0x65; // e

/** A value's type as the walk saw it; FAIL: not well formed. */
const FAIL = -1;
const STRING = 0;
const INTEGER = 1;
const LISTED = 2;
const DICTIONARY = 3;

/** The string fields of a KRPC message `scanKrpc` notes (indexes into `KrpcFields.starts`/`ends`). */
export const KRPC_Y = 0;
export const KRPC_T = 1;
export const KRPC_Q = 2;
/** `a.id` and `a.info_hash` of a query. */
export const KRPC_ARG_ID = 3;
export const KRPC_ARG_INFO_HASH = 4;
/** `r.id` of a response. */
export const KRPC_RESPONSE_ID = 5;
const STRING_FIELDS = 6;

/**
 * Where a KRPC message's fields lie in it: each string field's start and end (start -1 when the
 * field is absent or not a string). One scan at a time (the object is reused).
 */
export class KrpcFields {
  readonly starts = new Int32Array(STRING_FIELDS);
  readonly ends = new Int32Array(STRING_FIELDS);
  /** `a` is a dictionary. */
  aDict = false;
  /** `r` is a dictionary. */
  rDict = false;
  /** Where the 6- and 18-byte strings of `r.values` (compact peers), when a list, start and end. */
  readonly peers: number[] = [];
  readonly peerEnds: number[] = [];
  /** `e` is a list. */
  eList = false;

  // The walk.
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  items = 0;
  /** The string the walk read last. */
  start = 0;
  end = 0;

  reset(buf: Buffer): void {
    this.starts.fill(-1);
    this.aDict = this.rDict = this.eList = false;
    this.peers.length = 0;
    this.peerEnds.length = 0;
    this.buf = buf;
    this.pos = 0;
    this.items = 0;
  }

  /** Whether string field `field` is there with `length` bytes. */
  has(field: number, length?: number): boolean {
    return this.starts[field]! >= 0 && (length === undefined || this.ends[field]! - this.starts[field]! === length);
  }
}

const scan = new KrpcFields();

/**
 * The fields of the bencoded dictionary at the start of `buf`, or undefined when it is not a well
 * formed dictionary. The result is shared: read it before the next call.
 */
export function scanKrpc(buf: Buffer): KrpcFields | undefined {
  const c = scan;
  c.reset(buf);
  if (buf.length === 0 || buf[0] !== DICT) return undefined;
  return dict(c, 0, messageEntry) ? c : undefined;
}

/** The checks made before every value: depth, item count, input left. */
function enter(c: KrpcFields, depth: number): boolean {
  return depth <= MAX_DEPTH && ++c.items <= MAX_ITEMS && c.pos < c.buf.length;
}

/** Skip one value; its type (a string's place in `c.start`/`c.end`), or FAIL. */
function skip(c: KrpcFields, depth: number): number {
  if (!enter(c, depth)) return FAIL;
  const buf = c.buf;
  const b = buf[c.pos]!;
  if (b === DICT) {
    c.pos++;
    while (c.pos < buf.length && buf[c.pos] !== END) {
      if (!readString(c) || skip(c, depth + 1) === FAIL) return FAIL;
    }
    return closed(c) ? DICTIONARY : FAIL;
  }
  if (b === LIST) {
    c.pos++;
    while (c.pos < buf.length && buf[c.pos] !== END) {
      if (skip(c, depth + 1) === FAIL) return FAIL;
    }
    return closed(c) ? LISTED : FAIL;
  }
  if (b === INT) {
    const end = buf.indexOf(END, c.pos + 1);
    if (end < 0 || end - c.pos > 21) return FAIL;
    if (!Number.isFinite(Number(buf.toString('latin1', c.pos + 1, end)))) return FAIL;
    c.pos = end + 1;
    return INTEGER;
  }
  return readString(c) ? STRING : FAIL;
}

/** The `e` ending a dictionary or list: past it, or false when the input ends first. */
function closed(c: KrpcFields): boolean {
  if (c.pos >= c.buf.length) return false;
  c.pos++;
  return true;
}

/** A string at `c.pos` (length, `:`, bytes): its place in `c.start`/`c.end`. */
function readString(c: KrpcFields): boolean {
  const buf = c.buf;
  let len = 0;
  let digits = 0;
  while (c.pos < buf.length) {
    const d = buf[c.pos]!;
    if (d === 0x3a /* : */) break;
    if (d < 0x30 || d > 0x39 || ++digits > 7) return false;
    len = len * 10 + (d - 0x30);
    c.pos++;
  }
  if (digits === 0 || c.pos >= buf.length) return false;
  c.pos++;
  if (c.pos + len > buf.length) return false;
  c.start = c.pos;
  c.end = c.pos + len;
  c.pos += len;
  return true;
}

/** Whether the string last read is `key` (ASCII). */
function keyIs(c: KrpcFields, key: string): boolean {
  if (c.end - c.start !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (c.buf[c.start + i] !== key.charCodeAt(i)) return false;
  return true;
}

/** The value of string field `field` (a value of another type leaves the field absent). */
function stringField(c: KrpcFields, depth: number, field: number): boolean {
  const type = skip(c, depth);
  if (type === FAIL) return false;
  c.starts[field] = type === STRING ? c.start : -1;
  c.ends[field] = c.end;
  return true;
}

/** Whether the next value is a dictionary or list (`type` its first byte). */
function next(c: KrpcFields, type: number): boolean {
  return c.pos < c.buf.length && c.buf[c.pos] === type;
}

/** A dictionary: `entry` reads the value of each key (the string read last); false when anything in it is malformed. */
function dict(c: KrpcFields, depth: number, entry: (c: KrpcFields, depth: number) => boolean): boolean {
  if (!enter(c, depth)) return false;
  const buf = c.buf;
  c.pos++;
  while (c.pos < buf.length && buf[c.pos] !== END) {
    if (!readString(c) || !entry(c, depth + 1)) return false;
  }
  return closed(c);
}

/** The message's keys y, t, q, a, r and e matter. */
function messageEntry(c: KrpcFields, depth: number): boolean {
  switch (c.end - c.start === 1 ? c.buf[c.start] : 0) {
    case 0x79 /* y */:
      return stringField(c, depth, KRPC_Y);
    case 0x74 /* t */:
      return stringField(c, depth, KRPC_T);
    case 0x71 /* q */:
      return stringField(c, depth, KRPC_Q);
    case 0x61 /* a */:
      c.starts[KRPC_ARG_ID] = c.starts[KRPC_ARG_INFO_HASH] = -1;
      c.aDict = next(c, DICT);
      return c.aDict ? dict(c, depth, argumentEntry) : skip(c, depth) !== FAIL;
    case 0x72 /* r */:
      c.starts[KRPC_RESPONSE_ID] = -1;
      c.peers.length = 0;
      c.peerEnds.length = 0;
      c.rDict = next(c, DICT);
      return c.rDict ? dict(c, depth, responseEntry) : skip(c, depth) !== FAIL;
    case 0x65 /* e */: {
      const type = skip(c, depth);
      c.eList = type === LISTED;
      return type !== FAIL;
    }
    default:
      return skip(c, depth) !== FAIL;
  }
}

/** A query's arguments (`a`): `id` and `info_hash` matter. */
function argumentEntry(c: KrpcFields, depth: number): boolean {
  if (keyIs(c, 'id')) return stringField(c, depth, KRPC_ARG_ID);
  if (keyIs(c, 'info_hash')) return stringField(c, depth, KRPC_ARG_INFO_HASH);
  return skip(c, depth) !== FAIL;
}

/** A response (`r`): `id` and the compact peers of `values` matter. */
function responseEntry(c: KrpcFields, depth: number): boolean {
  if (keyIs(c, 'id')) return stringField(c, depth, KRPC_RESPONSE_ID);
  if (!keyIs(c, 'values')) return skip(c, depth) !== FAIL;
  c.peers.length = 0;
  c.peerEnds.length = 0;
  return next(c, LIST) ? peerList(c, depth) : skip(c, depth) !== FAIL;
}

/** `values`: the 6- and 18-byte strings (compact IPv4 and IPv6 peers) among its items. */
function peerList(c: KrpcFields, depth: number): boolean {
  if (!enter(c, depth)) return false;
  const buf = c.buf;
  c.pos++;
  while (c.pos < buf.length && buf[c.pos] !== END) {
    const type = skip(c, depth + 1);
    if (type === FAIL) return false;
    const len = c.end - c.start;
    if (type === STRING && (len === 6 || len === 18)) {
      c.peers.push(c.start);
      c.peerEnds.push(c.end);
    }
  }
  return closed(c);
}
