// A small seeded PRNG (sfc32) so every corpus is reproducible from its seed.

/** 32-bit FNV-1a of a text: derives independent streams from one seed and a label. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = '') {
    this.a = hash32(`a:${seed}:${stream}`);
    this.b = hash32(`b:${seed}:${stream}`);
    this.c = hash32(`c:${seed}:${stream}`);
    this.d = 1;
    // Mix away the correlation of the first outputs.
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Real in [min, max). */
  range(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Exponential with the given mean: inter-arrival of a Poisson process. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Normal (Box–Muller). */
  normal(mean: number, sd: number): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal around a median with a spread factor (sigma of the log). */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(this.normal(0, sigma));
  }

  /** Index in [0, n) with Zipf-like popularity (exponent ~1): a few sites get most visits. */
  zipf(n: number): number {
    // Inverse of the continuous approximation of the harmonic CDF.
    const u = this.next();
    const i = Math.floor(Math.exp(u * Math.log(n + 1))) - 1;
    return Math.min(n - 1, Math.max(0, i));
  }

  hex(chars: number): string {
    let out = '';
    for (let i = 0; i < chars; i++) out += '0123456789abcdef'[Math.floor(this.next() * 16)];
    return out;
  }

  base62(chars: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let out = '';
    for (let i = 0; i < chars; i++) out += alphabet[Math.floor(this.next() * 62)];
    return out;
  }
}
