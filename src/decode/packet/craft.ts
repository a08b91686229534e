// Builders of crafted packets and capture files, for tests and the fuzz corpus.
// Checksums are left zero: nothing in egressd verifies them.

import { parseIPv4, parseIPv6 } from '../../util/ip.js';

function ipv4Bytes(text: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(parseIPv4(text) >>> 0);
  return b;
}

function ipv6Bytes(text: string): Buffer {
  const v = parseIPv6(text);
  if (v === undefined) throw new Error(`bad IPv6 ${text}`);
  const b = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) b[i] = Number((v >> BigInt((15 - i) * 8)) & 0xffn);
  return b;
}

export function tcpSegment(srcPort: number, dstPort: number, flags: number, seq: number, payload: Buffer = Buffer.alloc(0), optionBytes = 0): Buffer {
  const headerLen = 20 + optionBytes;
  const b = Buffer.alloc(headerLen + payload.length);
  b.writeUInt16BE(srcPort, 0);
  b.writeUInt16BE(dstPort, 2);
  b.writeUInt32BE(seq >>> 0, 4);
  b[12] = (headerLen / 4) << 4;
  b[13] = flags;
  b.writeUInt16BE(65535, 14);
  for (let i = 20; i < headerLen; i++) b[i] = 1; // NOP options
  payload.copy(b, headerLen);
  return b;
}

export function udpDatagram(srcPort: number, dstPort: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt16BE(srcPort, 0);
  b.writeUInt16BE(dstPort, 2);
  b.writeUInt16BE(8 + payload.length, 4);
  payload.copy(b, 8);
  return b;
}

export function ipv4Packet(src: string, dst: string, proto: number, l4: Buffer, options: { fragmentOffset?: number; moreFragments?: boolean } = {}): Buffer {
  const b = Buffer.alloc(20 + l4.length);
  b[0] = 0x45;
  b.writeUInt16BE(20 + l4.length, 2);
  const frag = ((options.moreFragments ? 1 : 0) << 13) | ((options.fragmentOffset ?? 0) & 0x1fff);
  b.writeUInt16BE(frag, 6);
  b[8] = 64;
  b[9] = proto;
  ipv4Bytes(src).copy(b, 12);
  ipv4Bytes(dst).copy(b, 16);
  l4.copy(b, 20);
  return b;
}

/** IPv6 packet; `extensions` are (type, body) pairs placed before the transport header. */
export function ipv6Packet(src: string, dst: string, proto: number, l4: Buffer, extensions: { type: number; body: Buffer }[] = []): Buffer {
  const parts: Buffer[] = [];
  const types = [...extensions.map((e) => e.type), proto];
  extensions.forEach((e, i) => {
    const h = Buffer.concat([Buffer.from([types[i + 1]!, 0]), e.body]);
    if (e.type !== 44) h[1] = h.length / 8 - 1;
    parts.push(h);
  });
  const payload = Buffer.concat([...parts, l4]);
  const b = Buffer.alloc(40 + payload.length);
  b[0] = 0x60;
  b.writeUInt16BE(payload.length, 4);
  b[6] = types[0]!;
  b[7] = 64;
  ipv6Bytes(src).copy(b, 8);
  ipv6Bytes(dst).copy(b, 24);
  payload.copy(b, 40);
  return b;
}

/** Ethernet frame; each VLAN tag is (TPID, VLAN id). */
export function ethernetFrame(ip: Buffer, vlans: { tpid: number; id: number }[] = []): Buffer {
  const header = Buffer.alloc(12 + vlans.length * 4 + 2);
  header.fill(0xaa, 0, 6);
  header.fill(0xbb, 6, 12);
  let off = 12;
  for (const v of vlans) {
    header.writeUInt16BE(v.tpid, off);
    header.writeUInt16BE(v.id, off + 2);
    off += 4;
  }
  header.writeUInt16BE(ip[0]! >> 4 === 6 ? 0x86dd : 0x0800, off);
  return Buffer.concat([header, ip]);
}

export function sllFrame(ip: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(4, 0); // sent by us
  h.writeUInt16BE(1, 2);
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(ip[0]! >> 4 === 6 ? 0x86dd : 0x0800, 14);
  return Buffer.concat([h, ip]);
}

export function sll2Frame(ip: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(ip[0]! >> 4 === 6 ? 0x86dd : 0x0800, 0);
  h.writeUInt32BE(1, 4); // interface index
  h.writeUInt16BE(1, 8);
  h[11] = 6;
  return Buffer.concat([h, ip]);
}

/** BSD loopback header: the address family in the writer's byte order. */
export function nullFrame(ip: Buffer, bigEndian = false): Buffer {
  const h = Buffer.alloc(4);
  const family = ip[0]! >> 4 === 6 ? 30 : 2;
  if (bigEndian) h.writeUInt32BE(family);
  else h.writeUInt32LE(family);
  return Buffer.concat([h, ip]);
}

export interface CraftedPacket {
  tsMs: number;
  data: Buffer;
  /** pcapng interface index. */
  iface?: number;
}

export function pcapFile(linktype: number, packets: CraftedPacket[], options: { nanoseconds?: boolean; bigEndian?: boolean } = {}): Buffer {
  const be = options.bigEndian ?? false;
  const w32 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt32BE(v >>> 0, o) : b.writeUInt32LE(v >>> 0, o));
  const w16 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const header = Buffer.alloc(24);
  w32(header, options.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(header, 2, 4);
  w16(header, 4, 6);
  w32(header, 262144, 16);
  w32(header, linktype, 20);
  const parts: Buffer[] = [header];
  for (const p of packets) {
    const rec = Buffer.alloc(16);
    const sec = Math.floor(p.tsMs / 1000);
    const frac = p.tsMs - sec * 1000;
    w32(rec, sec, 0);
    w32(rec, Math.round(options.nanoseconds ? frac * 1e6 : frac * 1e3), 4);
    w32(rec, p.data.length, 8);
    w32(rec, p.data.length, 12);
    parts.push(rec, p.data);
  }
  return Buffer.concat(parts);
}

function pcapngBlock(type: number, body: Buffer): Buffer {
  const padded = Buffer.alloc((body.length + 3) & ~3);
  body.copy(padded);
  const total = 12 + padded.length;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(total, 4);
  padded.copy(b, 8);
  b.writeUInt32LE(total, total - 4);
  return b;
}

/** pcapng (little endian); `tsresol` is the raw if_tsresol byte (6 = µs, 9 = ns, 0x8a = 2^-10 s). */
export function pcapngFile(interfaces: { linktype: number; tsresol?: number }[], packets: CraftedPacket[]): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeInt32LE(-1, 8);
  shb.writeInt32LE(-1, 12);
  const parts = [pcapngBlock(0x0a0d0d0a, shb)];
  for (const i of interfaces) {
    const opts: Buffer[] = [];
    if (i.tsresol !== undefined) {
      const o = Buffer.alloc(8);
      o.writeUInt16LE(9, 0);
      o.writeUInt16LE(1, 2);
      o[4] = i.tsresol;
      opts.push(o);
    }
    if (opts.length > 0) opts.push(Buffer.alloc(4)); // opt_endofopt
    const fixed = Buffer.alloc(8);
    fixed.writeUInt16LE(i.linktype, 0);
    fixed.writeUInt32LE(262144, 4);
    parts.push(pcapngBlock(1, Buffer.concat([fixed, ...opts])));
  }
  for (const p of packets) {
    const iface = interfaces[p.iface ?? 0]!;
    const r = iface.tsresol ?? 6;
    const perSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
    const units = BigInt(Math.round((p.tsMs / 1000) * perSecond));
    const fixed = Buffer.alloc(20);
    fixed.writeUInt32LE(p.iface ?? 0, 0);
    fixed.writeUInt32LE(Number(units >> 32n), 4);
    fixed.writeUInt32LE(Number(units & 0xffffffffn), 8);
    fixed.writeUInt32LE(p.data.length, 12);
    fixed.writeUInt32LE(p.data.length, 16);
    parts.push(pcapngBlock(6, Buffer.concat([fixed, p.data])));
  }
  return Buffer.concat(parts);
}

/** A 20-byte uTP (BEP 29) header: version 1, `type` (0 data, 2 state, 4 syn), `connectionId`. */
export function utpHeader(type: number, connectionId: number): Buffer {
  const header = Buffer.alloc(20);
  header[0] = (type << 4) | 1;
  header.writeUInt16BE(connectionId, 2);
  return header;
}

/** A peer-wire handshake: pstr, reserved, info hash, peer id. */
export function handshake(infoHashHex: string, peerId: string): Buffer {
  return Buffer.concat([Buffer.from('\x13BitTorrent protocol', 'latin1'), Buffer.alloc(8), Buffer.from(infoHashHex, 'hex'), Buffer.from(peerId, 'latin1')]);
}

/** A TLS ClientHello record naming `sni`. */
export function clientHello(sni: string): Buffer {
  const name = Buffer.from(sni, 'latin1');
  const serverName = Buffer.alloc(9 + name.length);
  serverName.writeUInt16BE(0, 0); // extension type server_name
  serverName.writeUInt16BE(5 + name.length, 2);
  serverName.writeUInt16BE(3 + name.length, 4);
  serverName[6] = 0;
  serverName.writeUInt16BE(name.length, 7);
  name.copy(serverName, 9);
  const extensions = Buffer.concat([Buffer.from([0, 0x17, 0, 0]), serverName]); // extended_master_secret, then SNI
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    Buffer.from([0, 2, 0x13, 0x01]),
    Buffer.from([1, 0]),
    Buffer.from([extensions.length >> 8, extensions.length & 255]),
    extensions,
  ]);
  const hs = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 255, body.length & 255]), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1, hs.length >> 8, hs.length & 255]), hs]);
}

/** A DNS response for `name` with one A record. */
export function dnsResponse(name: string, address: string, id = 0x1234): Buffer {
  const qname = Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 6);
  const question = Buffer.concat([qname, Buffer.from([0, 1, 0, 1])]);
  const answer = Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]), ipv4Bytes(address)]);
  return Buffer.concat([header, question, answer]);
}
