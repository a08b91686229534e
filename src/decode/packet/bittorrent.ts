// BitTorrent evidence in payloads: peer-wire handshake, DHT (KRPC), uTP (BEP 29), local peer
// discovery (BEP 14), HTTP tracker announces (BEP 3) and the UDP tracker protocol (BEP 15).
// Each detector states what it saw; port numbers play no part.

import { KRPC_ARG_ID, KRPC_ARG_INFO_HASH, KRPC_Q, KRPC_RESPONSE_ID, KRPC_T, KRPC_Y, scanKrpc } from './bencode.js';

export const HANDSHAKE_PREFIX = Buffer.from('\x13BitTorrent protocol', 'latin1');
/** pstrlen + pstr + reserved + info_hash. */
export const HANDSHAKE_WITH_HASH = 48;
export const HANDSHAKE_FULL = 68;

export function hex(buf: Buffer, start = 0, end = buf.length): string {
  return buf.toString('hex', start, end);
}

const HEX_DIGITS = '0123456789ABCDEF';

/** Peer id as printable text: printable ASCII kept, other bytes %XX (reversible). */
export function printablePeerId(id: Buffer): string {
  // One string built from char codes, not one intermediate string per byte.
  const codes: number[] = [];
  for (let i = 0; i < id.length; i++) {
    const b = id[i]!;
    if (b >= 0x20 && b < 0x7f && b !== 0x25) codes.push(b);
    else codes.push(0x25, HEX_DIGITS.charCodeAt(b >> 4), HEX_DIGITS.charCodeAt(b & 15));
  }
  return String.fromCharCode(...codes);
}

const AZUREUS_CLIENTS: Record<string, string> = {
  AG: 'Ares',
  AZ: 'Vuze',
  BC: 'BitComet',
  BI: 'BiglyBT',
  BT: 'BitTorrent',
  DE: 'Deluge',
  FD: 'Free Download Manager',
  FG: 'FlashGet',
  KT: 'KTorrent',
  LT: 'libtorrent',
  lt: 'rTorrent',
  PI: 'PicoTorrent',
  qB: 'qBittorrent',
  SD: 'Thunder',
  TB: 'Torch',
  TL: 'Tribler',
  TR: 'Transmission',
  TT: 'TuoTu',
  UM: 'µTorrent Mac',
  UT: 'µTorrent',
  UW: 'µTorrent Web',
  WW: 'WebTorrent',
  XL: 'Xunlei',
};

/** Client name from a peer id's conventional prefix, or undefined. */
export function clientFromPeerId(id: Buffer): string | undefined {
  if (id.length >= 8 && id[0] === 0x2d && id[7] === 0x2d) {
    const code = id.toString('latin1', 1, 3);
    const name = AZUREUS_CLIENTS[code];
    const version = id.toString('latin1', 3, 7);
    if (name) return /^[0-9A-Za-z]{4}$/.test(version) ? `${name} ${version}` : name;
    return undefined;
  }
  if (id.length >= 3 && id.toString('latin1', 0, 3) === 'A2-') return 'aria2';
  if (id.length >= 2 && id[0] === 0x4d && id[1]! >= 0x30 && id[1]! <= 0x39) return 'BitTorrent (mainline)';
  return undefined;
}

export interface BitTorrentFacts {
  infoHashes: string[];
  peerId?: Buffer;
}

/**
 * How [at, end) of `buf` (the first bytes of one direction of a TCP or uTP stream) starts: -1 not
 * with a peer-wire handshake, 0 with a proper prefix of its protocol string (more bytes may
 * complete it), else the bytes of the handshake there (20 or more; its info hash at 28–48 from
 * HANDSHAKE_WITH_HASH on, its peer id at 48–68 from HANDSHAKE_FULL on).
 */
export function handshakeLength(buf: Buffer, at: number, end: number): number {
  const n = Math.min(end - at, HANDSHAKE_PREFIX.length);
  // Byte by byte: Buffer#compare with ranges validates and allocates on every call.
  for (let i = 0; i < n; i++) if (buf[at + i] !== HANDSHAKE_PREFIX[i]) return -1;
  return end - at < HANDSHAKE_PREFIX.length ? 0 : end - at;
}

export interface KrpcFacts {
  /** `q`, `r` or `e`. */
  kind: string;
  query?: string;
  infoHashes: string[];
  /** Compact peer endpoints from a get_peers response (`values`). */
  peers: Buffer[];
}

/** A DHT KRPC message: a bencoded dictionary with `y` in q/r/e and a transaction id `t`. */
export function matchKrpc(payload: Buffer): KrpcFacts | undefined {
  if (payload.length < 12 || payload[0] !== 0x64) return undefined;
  const m = scanKrpc(payload);
  if (m === undefined || !m.has(KRPC_Y, 1) || !m.has(KRPC_T)) return undefined;
  const kind = String.fromCharCode(payload[m.starts[KRPC_Y]!]!);
  if (kind !== 'q' && kind !== 'r' && kind !== 'e') return undefined;
  const facts: KrpcFacts = { kind, infoHashes: [], peers: [] };
  if (kind === 'q') {
    if (!m.has(KRPC_Q) || !m.aDict) return undefined;
    facts.query = payload.toString('latin1', m.starts[KRPC_Q], m.ends[KRPC_Q]);
    if (!m.has(KRPC_ARG_ID, 20)) return undefined;
    if (m.has(KRPC_ARG_INFO_HASH, 20)) facts.infoHashes.push(hex(payload, m.starts[KRPC_ARG_INFO_HASH], m.ends[KRPC_ARG_INFO_HASH]));
  } else if (kind === 'r') {
    if (!m.rDict || !m.has(KRPC_RESPONSE_ID, 20)) return undefined;
    for (let i = 0; i < m.peers.length; i++) facts.peers.push(payload.subarray(m.peers[i], m.peerEnds[i]));
  } else if (!m.eList) return undefined;
  return facts;
}

/**
 * Fallback for a DHT message cut by the snap length or carrying a value we do not parse:
 * the canonical KRPC openings.
 */
export function looksLikeKrpcPrefix(payload: Buffer): boolean {
  if (payload.length < 16 || payload[0] !== 0x64) return false;
  const head = payload.toString('latin1', 0, 16);
  return head.startsWith('d1:ad2:id20:') || head.startsWith('d1:rd2:id20:') || head.startsWith('d1:eli');
}

export interface UtpHeader {
  type: number;
  connectionId: number;
  /** Bytes after the header and its extensions. */
  dataOffset: number;
}

/** A well-formed uTP (BEP 29) header, or undefined. */
export function parseUtp(payload: Buffer): UtpHeader | undefined {
  if (payload.length < 20) return undefined;
  const b0 = payload[0]!;
  const type = b0 >> 4;
  if ((b0 & 15) !== 1 || type > 4) return undefined;
  let ext = payload[1]!;
  let pos = 20;
  for (let i = 0; ext !== 0; i++) {
    if (ext > 4 || i > 4 || pos + 2 > payload.length) return undefined;
    const len = payload[pos + 1]!;
    // Selective ACK bitmasks are a multiple of 4 bytes and at least 4.
    if (ext === 1 && (len < 4 || len % 4 !== 0)) return undefined;
    ext = payload[pos]!;
    pos += 2 + len;
    if (pos > payload.length) return undefined;
  }
  const dataLen = payload.length - pos;
  // SYN and STATE never carry data; DATA always does.
  if ((type === 4 || type === 2) && dataLen !== 0) return undefined;
  if (type === 0 && dataLen === 0) return undefined;
  return { type, connectionId: payload.readUInt16BE(2), dataOffset: pos };
}

const LSD_PREFIX = 'BT-SEARCH * HTTP/1.1\r\n';

/** A local peer discovery announce (BEP 14) with its info hashes. */
export function matchLsd(payload: Buffer): string[] | undefined {
  if (payload.length < LSD_PREFIX.length || payload.toString('latin1', 0, LSD_PREFIX.length) !== LSD_PREFIX) return undefined;
  const text = payload.toString('latin1', 0, Math.min(payload.length, 2048));
  const hashes: string[] = [];
  for (const m of text.matchAll(/^infohash:\s*([0-9a-f]{40})\s*$/gim)) hashes.push(m[1]!.toLowerCase());
  return hashes;
}

const UDP_TRACKER_MAGIC_HI = 0x417;
const UDP_TRACKER_MAGIC_LO = 0x27101980;

export type UdpTrackerMessage =
  | { kind: 'connect' }
  | { kind: 'announce'; infoHash: string; peerId: Buffer }
  | { kind: 'scrape'; infoHashes: string[] };

/** A UDP tracker request (BEP 15). Announces and scrapes count only on a flow that connected. */
export function matchUdpTrackerRequest(payload: Buffer, connected: boolean): UdpTrackerMessage | undefined {
  if (payload.length < 16) return undefined;
  const action = payload.readUInt32BE(8);
  if (action === 0) {
    if (payload.readUInt32BE(0) === UDP_TRACKER_MAGIC_HI && payload.readUInt32BE(4) === UDP_TRACKER_MAGIC_LO) return { kind: 'connect' };
    return undefined;
  }
  if (action === 1 && payload.length >= 98) {
    const peerId = payload.subarray(36, 56);
    if (!connected && clientFromPeerId(peerId) === undefined) return undefined;
    return { kind: 'announce', infoHash: hex(payload, 16, 36), peerId };
  }
  if (action === 2 && connected && payload.length >= 36 && (payload.length - 16) % 20 === 0) {
    const infoHashes: string[] = [];
    for (let p = 16; p + 20 <= payload.length && infoHashes.length < 16; p += 20) infoHashes.push(hex(payload, p, p + 20));
    return { kind: 'scrape', infoHashes };
  }
  return undefined;
}

/** Peer endpoints (6-byte IPv4 or 18-byte IPv6 entries) in a UDP tracker announce response. */
export function udpTrackerAnnouncePeers(payload: Buffer, ipv6: boolean): Buffer[] {
  if (payload.length < 20 || payload.readUInt32BE(0) !== 1) return [];
  const size = ipv6 ? 18 : 6;
  const peers: Buffer[] = [];
  for (let p = 20; p + size <= payload.length && peers.length < 200; p += size) peers.push(payload.subarray(p, p + size));
  return peers;
}

/** Percent-decode a query value into bytes. */
export function percentDecode(text: string): Buffer {
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && i + 2 < text.length && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out[n++] = parseInt(text.slice(i + 1, i + 3), 16);
      i += 2;
    } else out[n++] = c & 0xff;
  }
  return out.subarray(0, n);
}

/** info_hash / peer_id from an HTTP tracker request target (`/announce?info_hash=…`). */
export function trackerQuery(target: string): BitTorrentFacts | undefined {
  const q = target.indexOf('?');
  if (q < 0 || !target.includes('info_hash=')) return undefined;
  const facts: BitTorrentFacts = { infoHashes: [] };
  for (const part of target.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (name === 'info_hash') {
      const bytes = percentDecode(value);
      if (bytes.length === 20) facts.infoHashes.push(hex(bytes));
      else if (/^[0-9a-fA-F]{40}$/.test(value)) facts.infoHashes.push(value.toLowerCase());
    } else if (name === 'peer_id') {
      const bytes = percentDecode(value);
      if (bytes.length === 20) facts.peerId = bytes;
    }
  }
  return facts.infoHashes.length > 0 ? facts : undefined;
}

/** Compact peers (`5:peers` / `6:peers6`) in an HTTP tracker response body. */
export function trackerResponsePeers(body: Buffer): Buffer[] {
  const peers: Buffer[] = [];
  for (const [key, size] of [
    ['5:peers', 6],
    ['6:peers6', 18],
  ] as const) {
    const at = body.indexOf(key, 0, 'latin1');
    if (at < 0) continue;
    let pos = at + key.length;
    let len = 0;
    let digits = 0;
    while (pos < body.length && body[pos]! >= 0x30 && body[pos]! <= 0x39 && digits < 7) {
      len = len * 10 + body[pos]! - 0x30;
      pos++;
      digits++;
    }
    if (digits === 0 || body[pos] !== 0x3a) continue;
    pos++;
    const end = Math.min(body.length, pos + len);
    for (let p = pos; p + size <= end && peers.length < 200; p += size) peers.push(body.subarray(p, p + size));
  }
  return peers;
}

/** Services of BitTorrent vendors (client updates, web clients, ads): a name alone says "a client is here". */
const BITTORRENT_SERVICE_DOMAINS = ['utorrent.com', 'bittorrent.com', 'bitcomet.com'];
/** `.domain` of each, so a subdomain test builds no string. */
const SUBDOMAIN_SUFFIXES = BITTORRENT_SERVICE_DOMAINS.map((d) => '.' + d);

export function isBitTorrentServiceName(name: string): boolean {
  const n = name.toLowerCase();
  for (let i = 0; i < BITTORRENT_SERVICE_DOMAINS.length; i++) {
    if (n === BITTORRENT_SERVICE_DOMAINS[i] || n.endsWith(SUBDOMAIN_SUFFIXES[i]!)) return true;
  }
  return false;
}
