// IP text ⇄ numeric forms and CIDR matching, IPv4 and IPv6, without allocation on the v4 path.

/** IPv4 dotted quad to an unsigned 32-bit number; -1 when not a valid IPv4 address. */
export function parseIPv4(text: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255 || digits > 3) return -1;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

const textBytes = Buffer.alloc(16);

/**
 * Dotted-quad text of an unsigned 32-bit address, as one flat string: text joined from parts is a
 * tree of them, which V8 walks on every character read, and address texts are read over and over
 * (parsed, hashed, compared).
 */
export function formatIPv4(n: number): string {
  let at = 0;
  for (let shift = 24; shift >= 0; shift -= 8) {
    const octet = (n >>> shift) & 255;
    if (octet >= 100) textBytes[at++] = 48 + Math.floor(octet / 100);
    if (octet >= 10) textBytes[at++] = 48 + (Math.floor(octet / 10) % 10);
    textBytes[at++] = 48 + (octet % 10);
    if (shift > 0) textBytes[at++] = 46;
  }
  return textBytes.toString('latin1', 0, at);
}

/**
 * Text of recently seen IPv4 addresses, direct-mapped and bounded (2^bits entries): flows and
 * flow exports name the same hosts over and over, and each address is formatted once.
 */
export class IPv4TextCache {
  private readonly numbers: Float64Array;
  private readonly texts: string[];
  private readonly shift: number;

  constructor(bits = 12) {
    this.numbers = new Float64Array(1 << bits).fill(-1);
    this.texts = new Array<string>(1 << bits).fill('');
    this.shift = 32 - bits;
  }

  /** Dotted-quad text of an unsigned 32-bit address. */
  text(address: number): string {
    const slot = Math.imul(address, 0x9e3779b1) >>> this.shift;
    if (this.numbers[slot] === address) return this.texts[slot]!;
    const text = formatIPv4(address);
    this.numbers[slot] = address;
    this.texts[slot] = text;
    return text;
  }
}

/** IPv6 text (with optional embedded IPv4 and zone) to a 128-bit bigint; undefined when invalid. */
export function parseIPv6(text: string): bigint | undefined {
  const zone = text.indexOf('%');
  const addr = zone >= 0 ? text.slice(0, zone) : text;
  if (addr.length < 2 || !addr.includes(':')) return undefined;
  const halves = addr.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const groups = s.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (v4 < 0) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/**
 * Canonical (RFC 5952) text of the 16-byte IPv6 address at `bytes[o]`: lowercase, the longest run
 * of two or more zero groups (the first of equals) as `::`, and an IPv4-mapped address
 * (::ffff:0:0/96) in mixed notation, `::ffff:192.0.2.1` (section 5). Every source that reads
 * addresses as bytes (packets, NetFlow v9, IPFIX) writes them with this.
 */
export function formatIPv6At(bytes: Uint8Array, o: number): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if ((bytes[o + 2 * i]! | bytes[o + 2 * i + 1]!) === 0) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLen) {
        bestStart = runStart;
        bestLen = i - runStart + 1;
      }
    } else runStart = -1;
  }
  if (bestStart === 0 && bestLen === 5 && bytes[o + 10] === 0xff && bytes[o + 11] === 0xff) {
    return `::ffff:${formatIPv4(((bytes[o + 12]! << 24) | (bytes[o + 13]! << 16) | (bytes[o + 14]! << 8) | bytes[o + 15]!) >>> 0)}`;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLen - 1;
      continue;
    }
    if (text.length > 0 && text.charCodeAt(text.length - 1) !== 0x3a) text += ':';
    text += ((bytes[o + 2 * i]! << 8) | bytes[o + 2 * i + 1]!).toString(16);
  }
  return text;
}

/** The 16 bytes (network order) of a 128-bit IPv6 value. */
export function ipv6Bytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return bytes;
}

/** Canonical text (as formatIPv6At) for a 128-bit IPv6 value. */
export function formatIPv6(value: bigint): string {
  return formatIPv6At(ipv6Bytes(value), 0);
}

export function isIP(text: string): boolean {
  return parseIPv4(text) >= 0 || parseIPv6(text) !== undefined;
}

export interface Cidr {
  text: string;
  v6: boolean;
  /** IPv4: network as uint32; mask as uint32. */
  v4Network: number;
  v4Mask: number;
  v6Network: bigint;
  v6Mask: bigint;
}

/** Parse `a.b.c.d/n`, `x::/n` or a bare address (host route). Throws on invalid text. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const lenText = slash >= 0 ? text.slice(slash + 1) : undefined;
  const v4 = parseIPv4(addr);
  if (v4 >= 0) {
    const len = lenText === undefined ? 32 : Number(lenText);
    if (!Number.isInteger(len) || len < 0 || len > 32 || lenText === '') throw new Error(`bad prefix length in ${text}`);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return { text, v6: false, v4Network: (v4 & mask) >>> 0, v4Mask: mask, v6Network: 0n, v6Mask: 0n };
  }
  const v6 = parseIPv6(addr);
  if (v6 === undefined) throw new Error(`not an IP address or CIDR: ${text}`);
  const len = lenText === undefined ? 128 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 128 || lenText === '') throw new Error(`bad prefix length in ${text}`);
  const mask = len === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
  return { text, v6: true, v4Network: 0, v4Mask: 0, v6Network: v6 & mask, v6Mask: mask };
}

/** A set of CIDRs answering "which one contains this address", longest prefix first. */
export class CidrSet<T = string> {
  private readonly v4: { network: number; mask: number; value: T }[] = [];
  private readonly v6: { network: bigint; mask: bigint; value: T }[] = [];

  add(cidr: Cidr, value: T): void {
    if (cidr.v6) this.v6.push({ network: cidr.v6Network, mask: cidr.v6Mask, value });
    else this.v4.push({ network: cidr.v4Network, mask: cidr.v4Mask, value });
    // Longest prefix first: more specific entries win.
    this.v4.sort((a, b) => b.mask - a.mask);
    this.v6.sort((a, b) => (b.mask > a.mask ? 1 : b.mask < a.mask ? -1 : 0));
  }

  get size(): number {
    return this.v4.length + this.v6.length;
  }

  /** The value of the most specific CIDR containing `ip`, or undefined. */
  lookup(ip: string): T | undefined {
    const v4 = parseIPv4(ip);
    if (v4 >= 0) return this.lookupV4(v4);
    if (this.v6.length === 0) return undefined;
    const v6 = parseIPv6(ip);
    if (v6 === undefined) return undefined;
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) matches IPv4 ranges.
    if (v6 >> 32n === 0xffffn) return this.lookupV4(Number(v6 & 0xffffffffn));
    for (const e of this.v6) if ((v6 & e.mask) === e.network) return e.value;
    return undefined;
  }

  lookupV4(v4: number): T | undefined {
    for (const e of this.v4) if (((v4 & e.mask) >>> 0) === e.network) return e.value;
    return undefined;
  }
}
