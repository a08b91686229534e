import { IPv4TextCache } from '../../util/ip.js';

// Address text straight from datagram bytes: no BigInt, no intermediate arrays.

// Flow exports repeat the same addresses over and over: their text is built once (8192 entries).
const ipv4Texts = new IPv4TextCache(13);

export function ipv4Text(bytes: Uint8Array, o: number): string {
  return ipv4Texts.text(((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0);
}
