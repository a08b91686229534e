// A small HyperLogLog: distinct counts in bounded memory. Sparse (an open-addressing set of
// 32-bit hashes) while few values were seen, dense registers once the set would outgrow them.
// Estimation uses Ertl's improved estimator (2017), which needs no empirical bias tables.

/** 32-bit hash of a string (FNV-1a mixed through murmur3's finaliser). */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** murmur3 fmix32: spreads every input bit over the whole word. */
export function mix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const ALPHA_INF = 1 / (2 * Math.LN2);
/** Heap bytes of a typed array's own objects (view, buffer, backing store record), beyond its data. */
export const TYPED_ARRAY_OVERHEAD = 180;
/** Sparse tables up to this many slots survive clear(). */
const KEEP_SPARSE_SLOTS = 256;

export class HyperLogLog {
  readonly precision: number;
  private readonly m: number;
  /** Sparse mode: exact set of hashes (0 marks an empty slot; hash 0 is stored as 1). */
  /** Allocated on first use: most sketches of idle hosts stay empty. */
  private sparse: Uint32Array | null = null;
  private sparseCount = 0;
  private dense: Uint8Array | null = null;
  /** Dense estimate cached until a register changes (estimation walks every register). */
  private cachedCount = -1;

  constructor(precision = 12) {
    if (precision < 4 || precision > 16) throw new RangeError(`HyperLogLog precision ${precision} outside 4..16`);
    this.precision = precision;
    this.m = 1 << precision;
  }

  /** Add a value already hashed to 32 bits. */
  addHash(hash: number): void {
    if (this.dense) {
      this.addDense(hash >>> 0);
      return;
    }
    const h = hash >>> 0 || 1;
    let table = (this.sparse ??= new Uint32Array(8));
    let mask = table.length - 1;
    let i = mix32(h) & mask;
    for (;;) {
      const v = table[i]!;
      if (v === h) return;
      if (v === 0) break;
      i = (i + 1) & mask;
    }
    table[i] = h;
    this.sparseCount++;
    // Once the set would take more memory than the registers (4 bytes per hash): switch to dense.
    if (this.sparseCount * 16 > this.m * 3) {
      this.toDense();
      return;
    }
    // Load factor up to 3/4: short linear probes, a third less memory than 1/2.
    if (this.sparseCount * 4 > table.length * 3) {
      const grown = new Uint32Array(table.length * 2);
      mask = grown.length - 1;
      for (const v of table) {
        if (v === 0) continue;
        let j = mix32(v) & mask;
        while (grown[j] !== 0) j = (j + 1) & mask;
        grown[j] = v;
      }
      this.sparse = table = grown;
    }
  }

  add(text: string): void {
    this.addHash(hashString(text));
  }

  private addDense(hash: number): void {
    const q = 32 - this.precision;
    const index = hash >>> q;
    const rest = q === 32 ? hash : hash & ((1 << q) - 1);
    // Rank = leading zeros of the remaining q bits + 1 (q + 1 when all are zero).
    const rank = rest === 0 ? q + 1 : Math.clz32(rest) - this.precision + 1;
    const registers = this.dense!;
    if (registers[index]! < rank) {
      registers[index] = rank;
      this.cachedCount = -1;
    }
  }

  private toDense(): void {
    const table = this.sparse;
    this.dense = new Uint8Array(this.m);
    this.sparse = null;
    this.sparseCount = 0;
    if (table) for (const v of table) if (v !== 0) this.addDense(v);
  }

  /** Estimated number of distinct values (exact while sparse). */
  count(): number {
    if (!this.dense) return this.sparseCount;
    if (this.cachedCount >= 0) return this.cachedCount;
    const q = 32 - this.precision;
    const histogram = new Float64Array(q + 2);
    for (const r of this.dense) histogram[r]! += 1;
    const m = this.m;
    let z = m * tau(1 - histogram[q + 1]! / m);
    for (let k = q; k >= 1; k--) z = 0.5 * (z + histogram[k]!);
    z += m * sigma(histogram[0]! / m);
    this.cachedCount = Math.round((ALPHA_INF * m * m) / z);
    return this.cachedCount;
  }

  /** Fold another sketch of the same precision into this one. */
  merge(other: HyperLogLog): void {
    if (other.precision !== this.precision) throw new RangeError('HyperLogLog precisions differ');
    if (other.dense) {
      if (!this.dense) this.toDense();
      const mine = this.dense!;
      const theirs = other.dense;
      for (let i = 0; i < mine.length; i++) if (theirs[i]! > mine[i]!) mine[i] = theirs[i]!;
      this.cachedCount = -1;
      return;
    }
    if (other.sparse) for (const v of other.sparse) if (v !== 0) this.addHash(v);
  }

  clone(): HyperLogLog {
    const copy = new HyperLogLog(this.precision);
    copy.merge(this);
    return copy;
  }

  /**
   * Forget every value. A small sparse table is zeroed and kept: sketches cleared every window
   * would otherwise leave a table of garbage per window. Larger ones and registers are dropped.
   */
  clear(): void {
    this.dense = null;
    this.cachedCount = -1;
    const sparse = this.sparse;
    if (sparse !== null) {
      // A table mostly empty this time gives its memory back.
      if (sparse.length > KEEP_SPARSE_SLOTS || (sparse.length > 8 && this.sparseCount * 8 < sparse.length)) this.sparse = null;
      else if (this.sparseCount > 0) sparse.fill(0);
    }
    this.sparseCount = 0;
  }

  isEmpty(): boolean {
    return this.dense === null && this.sparseCount === 0;
  }

  /** Approximate heap bytes held: the object, and a table with its typed-array and buffer objects. */
  byteSize(): number {
    if (this.dense) return 70 + TYPED_ARRAY_OVERHEAD + this.dense.length;
    return 70 + (this.sparse ? TYPED_ARRAY_OVERHEAD + this.sparse.length * 4 : 0);
  }

  /** Compact, JSON-safe form for the state snapshot. */
  toJSON(): { p: number; s?: string; d?: string } {
    if (this.dense) return { p: this.precision, d: Buffer.from(this.dense.buffer, this.dense.byteOffset, this.dense.length).toString('base64') };
    const values = new Uint32Array(this.sparseCount);
    let n = 0;
    if (this.sparse) for (const v of this.sparse) if (v !== 0) values[n++] = v;
    return { p: this.precision, s: Buffer.from(values.buffer).toString('base64') };
  }

  static fromJSON(json: { p: number; s?: string; d?: string }): HyperLogLog {
    const sketch = new HyperLogLog(json.p);
    if (json.d !== undefined) {
      const bytes = Buffer.from(json.d, 'base64');
      if (bytes.length !== sketch.m) throw new RangeError('HyperLogLog snapshot has the wrong register count');
      sketch.dense = new Uint8Array(bytes);
      sketch.sparse = null;
      sketch.cachedCount = -1;
    } else if (json.s !== undefined) {
      const bytes = Buffer.from(json.s, 'base64');
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      for (let i = 0; i + 4 <= bytes.length; i += 4) sketch.addHash(view.getUint32(i, true));
    }
    return sketch;
  }
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  let previous: number;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (z !== previous);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let previous: number;
  do {
    x = Math.sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
  } while (z !== previous);
  return z / 3;
}
