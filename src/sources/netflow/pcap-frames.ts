// A small pcap/pcapng reader that yields the UDP datagrams of a capture: what an exporter sent,
// for replaying NetFlow/IPFIX without a socket. Streaming: memory stays at one chunk plus one
// block. Frames it cannot use (not UDP, IP fragments, truncated) are reported by reason.

import { ipv4Text } from '../../decode/netflow/ip-text.js';
import { formatIPv6At } from '../../util/ip.js';
import { EgressdError } from '../../errors.js';

export interface UdpDatagram {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  /** Capture time, epoch milliseconds. */
  ts: number;
}

export type FrameSkipReason = 'not_udp' | 'ip_fragment' | 'truncated_frame' | 'unknown_linktype' | 'bad_capture';

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER = 0x1a2b3c4d;

interface Interface {
  linktype: number;
  /** Timestamp units per millisecond. */
  unitsPerMs: number;
}

/** Datagrams of a pcap or pcapng stream, in capture order. */
export async function* udpDatagrams(
  input: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  onSkip: (reason: FrameSkipReason) => void = () => undefined,
): AsyncGenerator<UdpDatagram> {
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  let format: 'pcap' | 'pcapng' | undefined;
  let little = false;
  let nanos = false;
  let pcapLinktype = 0;
  let interfaces: Interface[] = [];

  const u32 = (o: number) => (little ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u16 = (o: number) => (little ? buf.readUInt16LE(o) : buf.readUInt16BE(o));

  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    buf = pos < buf.length ? Buffer.concat([buf.subarray(pos), bytes]) : bytes;
    pos = 0;
    for (;;) {
      const left = buf.length - pos;
      if (!format) {
        if (left < 4) break;
        const magic = buf.readUInt32BE(pos);
        if (magic === PCAPNG_SHB) {
          format = 'pcapng';
          continue;
        }
        if (left < 24) break;
        if (magic === PCAP_US || magic === PCAP_NS) little = false;
        else if (magic === swap32(PCAP_US) || magic === swap32(PCAP_NS)) little = true;
        else throw new EgressdError('USAGE', 'not a pcap or pcapng capture (NetFlow/IPFIX replay reads captured UDP datagrams)');
        nanos = magic === PCAP_NS || magic === swap32(PCAP_NS);
        format = 'pcap';
        pcapLinktype = u32(pos + 20) & 0xffff;
        pos += 24;
        continue;
      }
      if (format === 'pcap') {
        if (left < 16) break;
        const caplen = u32(pos + 8);
        if (caplen > 0x4000000) throw new EgressdError('IO', 'pcap record length out of range: capture is corrupt');
        if (left < 16 + caplen) break;
        const ts = u32(pos) * 1000 + Math.floor(u32(pos + 4) / (nanos ? 1e6 : 1e3));
        const datagram = udpOf(buf, pos + 16, caplen, pcapLinktype, ts, onSkip);
        pos += 16 + caplen;
        if (datagram) yield datagram;
        continue;
      }
      // pcapng: type, total length, body, total length.
      if (left < 12) break;
      const type = buf.readUInt32BE(pos) === PCAPNG_SHB ? PCAPNG_SHB : u32(pos);
      if (type === PCAPNG_SHB) {
        const order = buf.readUInt32BE(pos + 8);
        if (order === PCAPNG_BYTE_ORDER) little = false;
        else if (order === swap32(PCAPNG_BYTE_ORDER)) little = true;
        else throw new EgressdError('IO', 'pcapng section header with an unknown byte order: capture is corrupt');
        interfaces = [];
      }
      const total = u32(pos + 4);
      if (total < 12 || total % 4 !== 0 || total > 0x4000000) throw new EgressdError('IO', 'pcapng block length out of range: capture is corrupt');
      if (left < total) break;
      const body = pos + 8;
      if (type === 1 && total >= 20) {
        interfaces.push({ linktype: u16(body), unitsPerMs: interfaceResolution(buf, body + 8, pos + total - 4, u16) });
      } else if (type === 6 && total >= 32) {
        const iface = interfaces[u32(body)];
        const caplen = u32(body + 12);
        if (!iface || body + 20 + caplen > pos + total - 4) onSkip('bad_capture');
        else {
          const units = u32(body + 4) * 4294967296 + u32(body + 8);
          const datagram = udpOf(buf, body + 20, caplen, iface.linktype, Math.floor(units / iface.unitsPerMs), onSkip);
          if (datagram) yield datagram;
        }
      } else if (type === 3 && total >= 16) {
        const iface = interfaces[0];
        const caplen = Math.min(u32(body), total - 16);
        if (!iface) onSkip('bad_capture');
        else {
          const datagram = udpOf(buf, body + 4, caplen, iface.linktype, 0, onSkip);
          if (datagram) yield datagram;
        }
      }
      pos += total;
    }
  }
}

function swap32(n: number): number {
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

/** Timestamp units per ms from the if_tsresol option (code 9); microseconds by default. */
function interfaceResolution(buf: Buffer, o: number, end: number, u16: (o: number) => number): number {
  while (end - o >= 4) {
    const code = u16(o);
    const length = u16(o + 2);
    if (code === 0) break;
    if (code === 9 && length >= 1) {
      const v = buf[o + 4]!;
      const perSecond = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
      return perSecond / 1000;
    }
    o += 4 + ((length + 3) & ~3);
  }
  return 1000;
}

/** The UDP datagram inside one captured frame, or undefined (with the reason reported). */
function udpOf(
  buf: Buffer,
  o: number,
  caplen: number,
  linktype: number,
  ts: number,
  onSkip: (reason: FrameSkipReason) => void,
): UdpDatagram | undefined {
  const end = o + caplen;
  let ip: number;
  switch (linktype) {
    case 1: {
      // Ethernet, with any 802.1Q / 802.1ad tags.
      let p = o + 12;
      if (end - p < 2) return skip(onSkip, 'truncated_frame');
      let ethertype = buf.readUInt16BE(p);
      while ((ethertype === 0x8100 || ethertype === 0x88a8) && end - p >= 6) {
        p += 4;
        ethertype = buf.readUInt16BE(p);
      }
      ip = p + 2;
      if (ethertype === 0x8864) {
        // PPPoE session: 6-byte header, then the PPP protocol (0x0021 IPv4, 0x0057 IPv6).
        if (end - ip < 8) return skip(onSkip, 'truncated_frame');
        ethertype = buf.readUInt16BE(ip + 6) === 0x0021 ? 0x0800 : buf.readUInt16BE(ip + 6) === 0x0057 ? 0x86dd : 0;
        ip += 8;
      } else if (ethertype === 0x8847) {
        // MPLS: skip labels to the bottom of the stack; the payload's version nibble tells the rest.
        while (end - ip >= 4 && !(buf[ip + 2]! & 0x01)) ip += 4;
        ip += 4;
        ethertype = 0x0800;
      }
      if (ethertype !== 0x0800 && ethertype !== 0x86dd) return skip(onSkip, 'not_udp');
      break;
    }
    case 0: // BSD loopback: 4-byte address family
    case 108:
      ip = o + 4;
      break;
    case 12:
    case 14:
    case 101:
    case 228:
    case 229:
      ip = o;
      break;
    case 113: // Linux cooked capture
      ip = o + 16;
      break;
    case 276: // Linux cooked capture v2
      ip = o + 20;
      break;
    default:
      return skip(onSkip, 'unknown_linktype');
  }
  if (end - ip < 1) return skip(onSkip, 'truncated_frame');
  const version = buf[ip]! >> 4;
  let udp: number;
  let src: string;
  let dst: string;
  if (version === 4) {
    if (end - ip < 20) return skip(onSkip, 'truncated_frame');
    const headerLength = (buf[ip]! & 0x0f) * 4;
    const fragment = buf.readUInt16BE(ip + 6);
    if (fragment & 0x3fff) return skip(onSkip, 'ip_fragment');
    if (buf[ip + 9] !== 17) return skip(onSkip, 'not_udp');
    src = ipv4Text(buf, ip + 12);
    dst = ipv4Text(buf, ip + 16);
    udp = ip + headerLength;
  } else if (version === 6) {
    if (end - ip < 40) return skip(onSkip, 'truncated_frame');
    let next = buf[ip + 6]!;
    let p = ip + 40;
    // Hop-by-hop, routing and destination options headers come before UDP.
    while ((next === 0 || next === 43 || next === 60) && end - p >= 8) {
      next = buf[p]!;
      p += (buf[p + 1]! + 1) * 8;
    }
    if (next === 44) return skip(onSkip, 'ip_fragment');
    if (next !== 17) return skip(onSkip, 'not_udp');
    src = formatIPv6At(buf, ip + 8);
    dst = formatIPv6At(buf, ip + 24);
    udp = p;
  } else return skip(onSkip, 'not_udp');
  if (end - udp < 8) return skip(onSkip, 'truncated_frame');
  const udpLength = buf.readUInt16BE(udp + 4);
  if (udpLength < 8 || udp + udpLength > end) return skip(onSkip, 'truncated_frame');
  return {
    src,
    dst,
    srcPort: buf.readUInt16BE(udp),
    dstPort: buf.readUInt16BE(udp + 2),
    payload: buf.subarray(udp + 8, udp + udpLength),
    ts,
  };
}

function skip(onSkip: (reason: FrameSkipReason) => void, reason: FrameSkipReason): undefined {
  onSkip(reason);
  return undefined;
}
