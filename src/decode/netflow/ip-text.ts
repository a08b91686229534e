// Address text straight from datagram bytes: no BigInt, no intermediate arrays.

// Flow exports repeat the same addresses over and over: a small direct-mapped cache of their
// text saves building (and collecting) a string per record. Bounded: 8192 entries.
const CACHE_BITS = 13;
const cachedAddress = new Float64Array(1 << CACHE_BITS).fill(-1);
const cachedText: string[] = new Array<string>(1 << CACHE_BITS).fill('');

export function ipv4Text(bytes: Uint8Array, o: number): string {
  const value = ((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0;
  const slot = Math.imul(value, 0x9e3779b1) >>> (32 - CACHE_BITS);
  if (cachedAddress[slot] === value) return cachedText[slot]!;
  const text = `${bytes[o]}.${bytes[o + 1]}.${bytes[o + 2]}.${bytes[o + 3]}`;
  cachedAddress[slot] = value;
  cachedText[slot] = text;
  return text;
}

/** RFC 5952 text of 16 bytes at `o`: lowercase, longest zero run (≥ 2 groups) as `::`. */
export function ipv6Text(bytes: Uint8Array, o: number): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const zero = bytes[o + 2 * i] === 0 && bytes[o + 2 * i + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLen) {
        bestStart = runStart;
        bestLen = i - runStart + 1;
      }
    } else runStart = -1;
  }
  // IPv4-mapped addresses read better in their usual form.
  if (bestStart === 0 && bestLen === 5 && bytes[o + 10] === 0xff && bytes[o + 11] === 0xff) {
    return `::ffff:${ipv4Text(bytes, o + 12)}`;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLen - 1;
      continue;
    }
    const group = ((bytes[o + 2 * i]! << 8) | bytes[o + 2 * i + 1]!).toString(16);
    text += i === 7 || i + 1 === bestStart ? group : `${group}:`;
  }
  return text;
}
