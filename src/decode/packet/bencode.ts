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

/**
 * Where a KRPC message's fields lie in it: the start and end of a string value, start -1 when the
 * field is absent or not a string. One scan at a time (the object is reused).
 */
export class KrpcFields {
  y = -1;
  yEnd = 0;
  t = -1;
  tEnd = 0;
  q = -1;
  qEnd = 0;
  /** `a` is a dictionary; then its `id` and `info_hash`. */
  aDict = false;
  aId = -1;
  aIdEnd = 0;
  aInfoHash = -1;
  aInfoHashEnd = 0;
  /** `r` is a dictionary; then its `id`. */
  rDict = false;
  rId = -1;
  rIdEnd = 0;
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
    this.y = this.t = this.q = this.aId = this.aInfoHash = this.rId = -1;
    this.aDict = this.rDict = this.eList = false;
    this.peers.length = 0;
    this.peerEnds.length = 0;
    this.buf = buf;
    this.pos = 0;
    this.items = 0;
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
  return topDict(c) ? c : undefined;
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

/** Skip a value that should be a string: its start (`c.end` its end), -1 when it is another type, or -2 (FAIL). */
function stringValue(c: KrpcFields, depth: number): number {
  const type = skip(c, depth);
  return type === FAIL ? -2 : type === STRING ? c.start : -1;
}

/** The message: a dictionary whose keys y, t, q, a, r and e matter. */
function topDict(c: KrpcFields): boolean {
  if (!enter(c, 0)) return false;
  const buf = c.buf;
  c.pos++;
  while (c.pos < buf.length && buf[c.pos] !== END) {
    if (!readString(c)) return false;
    const one = c.end - c.start === 1 ? buf[c.start]! : 0;
    let at: number;
    switch (one) {
      case 0x79 /* y */:
        if ((at = stringValue(c, 1)) === -2) return false;
        c.y = at;
        c.yEnd = c.end;
        break;
      case 0x74 /* t */:
        if ((at = stringValue(c, 1)) === -2) return false;
        c.t = at;
        c.tEnd = c.end;
        break;
      case 0x71 /* q */:
        if ((at = stringValue(c, 1)) === -2) return false;
        c.q = at;
        c.qEnd = c.end;
        break;
      case 0x61 /* a */:
        c.aId = c.aInfoHash = -1;
        if (c.pos < buf.length && buf[c.pos] === DICT) {
          if (!argumentsDict(c, 1)) return false;
          c.aDict = true;
        } else {
          if (skip(c, 1) === FAIL) return false;
          c.aDict = false;
        }
        break;
      case 0x72 /* r */:
        c.rId = -1;
        c.peers.length = 0;
        c.peerEnds.length = 0;
        if (c.pos < buf.length && buf[c.pos] === DICT) {
          if (!responseDict(c, 1)) return false;
          c.rDict = true;
        } else {
          if (skip(c, 1) === FAIL) return false;
          c.rDict = false;
        }
        break;
      case 0x65 /* e */: {
        const type = skip(c, 1);
        if (type === FAIL) return false;
        c.eList = type === LISTED;
        break;
      }
      default:
        if (skip(c, 1) === FAIL) return false;
    }
  }
  return closed(c);
}

/** A query's arguments (`a`): `id` and `info_hash` matter. */
function argumentsDict(c: KrpcFields, depth: number): boolean {
  if (!enter(c, depth)) return false;
  const buf = c.buf;
  c.pos++;
  while (c.pos < buf.length && buf[c.pos] !== END) {
    if (!readString(c)) return false;
    let at: number;
    if (keyIs(c, 'id')) {
      if ((at = stringValue(c, depth + 1)) === -2) return false;
      c.aId = at;
      c.aIdEnd = c.end;
    } else if (keyIs(c, 'info_hash')) {
      if ((at = stringValue(c, depth + 1)) === -2) return false;
      c.aInfoHash = at;
      c.aInfoHashEnd = c.end;
    } else if (skip(c, depth + 1) === FAIL) return false;
  }
  return closed(c);
}

/** A response (`r`): `id` and the compact peers of `values` matter. */
function responseDict(c: KrpcFields, depth: number): boolean {
  if (!enter(c, depth)) return false;
  const buf = c.buf;
  c.pos++;
  while (c.pos < buf.length && buf[c.pos] !== END) {
    if (!readString(c)) return false;
    let at: number;
    if (keyIs(c, 'id')) {
      if ((at = stringValue(c, depth + 1)) === -2) return false;
      c.rId = at;
      c.rIdEnd = c.end;
    } else if (keyIs(c, 'values')) {
      c.peers.length = 0;
      c.peerEnds.length = 0;
      if (c.pos < buf.length && buf[c.pos] === LIST) {
        if (!peerList(c, depth + 1)) return false;
      } else if (skip(c, depth + 1) === FAIL) return false;
    } else if (skip(c, depth + 1) === FAIL) return false;
  }
  return closed(c);
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
