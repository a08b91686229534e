// A small, bounded bencode reader for DHT (KRPC) messages: strings stay views, dictionary
// keys may come in any order (some clients send `d1:q…` first), depth and item count are capped.

export type BValue = Buffer | number | BValue[] | BDict;
export interface BDict {
  readonly kind: 'dict';
  readonly entries: Map<string, BValue>;
}

const MAX_DEPTH = 8;
const MAX_ITEMS = 512;

class Cursor {
  pos = 0;
  items = 0;
  constructor(readonly buf: Buffer) {}
}

/** Parse one bencoded value at the start of `buf`; undefined when it is not well formed. */
export function parseBencode(buf: Buffer): { value: BValue; end: number } | undefined {
  const c = new Cursor(buf);
  const value = readValue(c, 0);
  return value === undefined ? undefined : { value, end: c.pos };
}

export function isDict(v: BValue | undefined): v is BDict {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !Array.isArray(v);
}

export function dictGet(v: BValue | undefined, key: string): BValue | undefined {
  return isDict(v) ? v.entries.get(key) : undefined;
}

export function asBytes(v: BValue | undefined): Buffer | undefined {
  return Buffer.isBuffer(v) ? v : undefined;
}

function readValue(c: Cursor, depth: number): BValue | undefined {
  if (depth > MAX_DEPTH || ++c.items > MAX_ITEMS || c.pos >= c.buf.length) return undefined;
  const b = c.buf[c.pos]!;
  if (b === 0x64 /* d */) {
    c.pos++;
    const entries = new Map<string, BValue>();
    while (c.pos < c.buf.length && c.buf[c.pos] !== 0x65 /* e */) {
      const key = readString(c);
      if (key === undefined) return undefined;
      const value = readValue(c, depth + 1);
      if (value === undefined) return undefined;
      entries.set(key.toString('latin1'), value);
    }
    if (c.pos >= c.buf.length) return undefined;
    c.pos++;
    return { kind: 'dict', entries };
  }
  if (b === 0x6c /* l */) {
    c.pos++;
    const list: BValue[] = [];
    while (c.pos < c.buf.length && c.buf[c.pos] !== 0x65) {
      const value = readValue(c, depth + 1);
      if (value === undefined) return undefined;
      list.push(value);
    }
    if (c.pos >= c.buf.length) return undefined;
    c.pos++;
    return list;
  }
  if (b === 0x69 /* i */) {
    const end = c.buf.indexOf(0x65, c.pos + 1);
    if (end < 0 || end - c.pos > 21) return undefined;
    const n = Number(c.buf.toString('latin1', c.pos + 1, end));
    if (!Number.isFinite(n)) return undefined;
    c.pos = end + 1;
    return n;
  }
  return readString(c);
}

function readString(c: Cursor): Buffer | undefined {
  let len = 0;
  let digits = 0;
  while (c.pos < c.buf.length) {
    const d = c.buf[c.pos]!;
    if (d === 0x3a /* : */) break;
    if (d < 0x30 || d > 0x39 || ++digits > 7) return undefined;
    len = len * 10 + (d - 0x30);
    c.pos++;
  }
  if (digits === 0 || c.pos >= c.buf.length) return undefined;
  c.pos++;
  if (c.pos + len > c.buf.length) return undefined;
  const s = c.buf.subarray(c.pos, c.pos + len);
  c.pos += len;
  return s;
}
