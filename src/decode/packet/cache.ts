// A bounded map with a time-to-live on event time: the oldest entry goes when it is full.

export class BoundedTtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K, now: number): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expires < now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: K, value: V, now: number): void {
    if (this.maxEntries <= 0) return;
    // Re-inserting moves the key to the young end of the map's order.
    this.entries.delete(key);
    this.entries.set(key, { value, expires: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * What short byte strings (server names, peer ids) stand for, one per slot of a table indexed by a
 * hash of their bytes: a string seen before costs a hash and a compare, not a decoded string and a
 * map lookup. With `foldCase`, ASCII letters match either case and the text is lower-cased; bytes
 * past ASCII then never match, so such strings are derived anew each time.
 */
export class ByteStringMemo<V> {
  private readonly texts: (string | undefined)[];
  private readonly values: V[];
  private readonly shift: number;

  constructor(
    /** Derives the value from the string's text (latin1; lower-cased with `foldCase`) and its bytes. */
    private readonly derive: (text: string, bytes: Buffer, at: number, end: number) => V,
    private readonly foldCase = false,
    bits = 10,
  ) {
    this.texts = new Array<string | undefined>(1 << bits).fill(undefined);
    this.values = new Array<V>(1 << bits);
    this.shift = 32 - bits;
  }

  get(bytes: Buffer, at: number, end: number): V {
    const fold = this.foldCase ? 0x20 : 0;
    let h = 0x811c9dc5;
    for (let i = at; i < end; i++) h = Math.imul(h ^ (bytes[i]! | fold), 0x01000193);
    const slot = h >>> this.shift;
    if (this.matches(this.texts[slot], bytes, at, end)) return this.values[slot]!;
    let text = bytes.toString('latin1', at, end);
    if (this.foldCase) text = text.toLowerCase();
    const value = this.derive(text, bytes, at, end);
    this.texts[slot] = text;
    this.values[slot] = value;
    return value;
  }

  private matches(text: string | undefined, bytes: Buffer, at: number, end: number): boolean {
    if (text === undefined || text.length !== end - at) return false;
    for (let i = at; i < end; i++) {
      let c = bytes[i]!;
      if (this.foldCase) {
        if (c >= 0x80) return false;
        if (c >= 0x41 && c <= 0x5a) c += 0x20;
      }
      if (text.charCodeAt(i - at) !== c) return false;
    }
    return true;
  }
}
