import { IPv4TextCache } from '../../util/ip.js';

// Address text straight from datagram bytes: no BigInt, no intermediate arrays.

// Flow exports repeat the same addresses over and over: their text is built once (8192 entries).
const ipv4Texts = new IPv4TextCache(13);

export function ipv4Text(bytes: Uint8Array, o: number): string {
  return ipv4Texts.text(((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0);
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
