// Link, network and transport layers of one captured packet, decoded into a reused view.
// Facts only: where the addresses, ports and payload are. Problems come back as a reason.

/** Link types (LINKTYPE_* numbers as stored in capture files). */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW_OPENBSD: 12,
  RAW_BSDOS: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

/** Everything later stages need from one packet. Reused between packets: copy what you keep. */
export class PacketView {
  buf: Buffer = Buffer.alloc(0);
  ipVersion: 4 | 6 = 4;
  /** IPv4 addresses as unsigned 32-bit numbers. */
  srcV4 = 0;
  dstV4 = 0;
  /** Offsets of the 16-byte IPv6 addresses in `buf`. */
  srcOff = 0;
  dstOff = 0;
  proto = 0;
  srcPort = 0;
  dstPort = 0;
  /** Bytes of the IP packet on the wire (IP header + payload), from the IP length field. */
  ipLength = 0;
  tcpFlags = 0;
  tcpSeq = 0;
  /** Captured transport payload: [payloadOff, payloadOff + payloadLen) in `buf`. */
  payloadOff = 0;
  payloadLen = 0;
  /** An IPv4/IPv6 fragment that is not the first: no transport header. */
  laterFragment = false;
  /** Any fragment (first or later). */
  fragment = false;

  payload(): Buffer {
    return this.buf.subarray(this.payloadOff, this.payloadOff + this.payloadLen);
  }
}

/** Reasons a packet is not decoded; `non_ip`/`unsupported_linktype` are skips, the rest errors. */
export type LayerResult =
  | 'ok'
  | 'non_ip'
  | 'unsupported_linktype'
  | 'truncated_link'
  | 'truncated_ip'
  | 'bad_ip_version'
  | 'bad_ip_header'
  | 'truncated_ipv6_ext'
  | 'truncated_tcp'
  | 'bad_tcp_header'
  | 'truncated_udp';

// Big-endian reads straight from the bytes: callers have checked the bounds, and unlike
// readUInt32BE these inline and return an unboxed number.
function u16(data: Buffer, off: number): number {
  return (data[off]! << 8) | data[off + 1]!;
}

export function u32(data: Buffer, off: number): number {
  return ((data[off]! << 24) | (data[off + 1]! << 16) | (data[off + 2]! << 8) | data[off + 3]!) >>> 0;
}

/**
 * Canonical (RFC 5952) text of the 16-byte IPv6 address at `buf[off]`: lowercase, the longest
 * run of two or more zero groups (the first of equals) as `::`. Same text as formatIPv6Bytes,
 * without its BigInt arithmetic (this runs once per new flow).
 */
export function formatIPv6At(buf: Uint8Array, off: number): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if ((buf[off + 2 * i]! | buf[off + 2 * i + 1]!) === 0) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLen) {
        bestStart = runStart;
        bestLen = i - runStart + 1;
      }
    } else runStart = -1;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLen - 1;
      continue;
    }
    if (text.length > 0 && text.charCodeAt(text.length - 1) !== 0x3a) text += ':';
    const g = (buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!;
    text += g.toString(16);
  }
  return text;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

/**
 * Decode the packet in `data[start, end)` captured on `linktype` into `view` (offsets in the
 * view point into `data`; nothing is copied).
 */
export function decodeLayers(linktype: number, data: Buffer, view: PacketView, start = 0, end = data.length): LayerResult {
  view.buf = data;
  switch (linktype) {
    case LINKTYPE.ETHERNET:
      return decodeEthernet(data, start, end, view);
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_OPENBSD:
    case LINKTYPE.RAW_BSDOS:
      return decodeIpByVersion(data, start, end, view);
    case LINKTYPE.IPV4:
      return decodeIPv4(data, start, end, view);
    case LINKTYPE.IPV6:
      return decodeIPv6(data, start, end, view);
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP:
      return decodeLoopback(data, start, end, view, linktype === LINKTYPE.LOOP);
    case LINKTYPE.LINUX_SLL:
      if (start + 16 > end) return 'truncated_link';
      return decodeEthertype(data.readUInt16BE(start + 14), data, start + 16, end, view);
    case LINKTYPE.LINUX_SLL2:
      if (start + 20 > end) return 'truncated_link';
      return decodeEthertype(data.readUInt16BE(start), data, start + 20, end, view);
    default:
      return 'unsupported_linktype';
  }
}

function decodeEthernet(data: Buffer, start: number, end: number, view: PacketView): LayerResult {
  if (start + 14 > end) return 'truncated_link';
  let type = u16(data, start + 12);
  let off = start + 14;
  // 802.1Q, 802.1ad (QinQ) and the older 0x9100 tag, stacked any number of times.
  while (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
    if (off + 4 > end) return 'truncated_link';
    type = u16(data, off + 2);
    off += 4;
  }
  return decodeEthertype(type, data, off, end, view);
}

function decodeEthertype(type: number, data: Buffer, off: number, end: number, view: PacketView): LayerResult {
  if (type === ETHERTYPE_IPV4) return decodeIPv4(data, off, end, view);
  if (type === ETHERTYPE_IPV6) return decodeIPv6(data, off, end, view);
  return 'non_ip';
}

function decodeLoopback(data: Buffer, start: number, end: number, view: PacketView, networkOrder: boolean): LayerResult {
  if (start + 4 > end) return 'truncated_link';
  // DLT_NULL stores the address family in the capturing host's byte order.
  const le = data.readUInt32LE(start);
  const family = networkOrder || le > 0xffff ? data.readUInt32BE(start) : le;
  if (family === 2) return decodeIPv4(data, start + 4, end, view);
  // AF_INET6 differs by OS: 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
  if (family === 10 || family === 24 || family === 28 || family === 30) return decodeIPv6(data, start + 4, end, view);
  return 'non_ip';
}

function decodeIpByVersion(data: Buffer, off: number, end: number, view: PacketView): LayerResult {
  if (off >= end) return 'truncated_ip';
  const version = data[off]! >> 4;
  if (version === 4) return decodeIPv4(data, off, end, view);
  if (version === 6) return decodeIPv6(data, off, end, view);
  return 'bad_ip_version';
}

function decodeIPv4(data: Buffer, off: number, frameEnd: number, view: PacketView): LayerResult {
  if (off + 20 > frameEnd) return 'truncated_ip';
  const vihl = data[off]!;
  if (vihl >> 4 !== 4) return 'bad_ip_version';
  const headerLen = (vihl & 15) * 4;
  if (headerLen < 20) return 'bad_ip_header';
  if (off + headerLen > frameEnd) return 'truncated_ip';
  let totalLen = u16(data, off + 2);
  const captured = frameEnd - off;
  // Segmentation offload on the capturing host leaves 0 in the length field.
  if (totalLen === 0) totalLen = captured;
  if (totalLen < headerLen) return 'bad_ip_header';
  view.ipVersion = 4;
  view.ipLength = totalLen;
  view.srcV4 = u32(data, off + 12);
  view.dstV4 = u32(data, off + 16);
  view.proto = data[off + 9]!;
  const fragField = u16(data, off + 6);
  const fragOffset = fragField & 0x1fff;
  view.fragment = fragOffset !== 0 || (fragField & 0x2000) !== 0;
  view.laterFragment = fragOffset !== 0;
  // Ethernet padding after the IP packet is not payload.
  const end = off + Math.min(totalLen, captured);
  return decodeTransport(data, off + headerLen, end, view);
}

function decodeIPv6(data: Buffer, off: number, frameEnd: number, view: PacketView): LayerResult {
  if (off + 40 > frameEnd) return 'truncated_ip';
  if (data[off]! >> 4 !== 6) return 'bad_ip_version';
  const payloadLen = u16(data, off + 4);
  const captured = frameEnd - off - 40;
  view.ipVersion = 6;
  // Jumbograms (length 0) and offloaded segments: the captured length stands in.
  view.ipLength = 40 + (payloadLen === 0 ? captured : payloadLen);
  view.srcOff = off + 8;
  view.dstOff = off + 24;
  view.fragment = false;
  view.laterFragment = false;
  const end = off + 40 + Math.min(payloadLen === 0 ? captured : payloadLen, captured);
  let next = data[off + 6]!;
  let pos = off + 40;
  for (let hops = 0; hops < 16; hops++) {
    switch (next) {
      case 0: // hop-by-hop
      case 43: // routing
      case 60: // destination options
      case 135: // mobility
      case 139: // HIP
      case 140: // shim6
        if (pos + 8 > end) return 'truncated_ipv6_ext';
        next = data[pos]!;
        pos += (data[pos + 1]! + 1) * 8;
        continue;
      case 51: // authentication header: length in 4-byte units minus 2
        if (pos + 8 > end) return 'truncated_ipv6_ext';
        next = data[pos]!;
        pos += (data[pos + 1]! + 2) * 4;
        continue;
      case 44: {
        if (pos + 8 > end) return 'truncated_ipv6_ext';
        next = data[pos]!;
        const fragField = data.readUInt16BE(pos + 2);
        view.fragment = true;
        view.laterFragment = fragField >> 3 !== 0;
        pos += 8;
        continue;
      }
      default:
        break;
    }
    break;
  }
  if (pos > end) return 'truncated_ipv6_ext';
  view.proto = next;
  return decodeTransport(data, pos, end, view);
}

function decodeTransport(data: Buffer, off: number, end: number, view: PacketView): LayerResult {
  view.srcPort = 0;
  view.dstPort = 0;
  view.tcpFlags = 0;
  view.payloadOff = off;
  view.payloadLen = 0;
  if (view.laterFragment) return 'ok';
  if (view.proto === 6) {
    if (off + 20 > end) return 'truncated_tcp';
    const dataOffset = (data[off + 12]! >> 4) * 4;
    if (dataOffset < 20) return 'bad_tcp_header';
    view.srcPort = u16(data, off);
    view.dstPort = u16(data, off + 2);
    view.tcpSeq = u32(data, off + 4);
    view.tcpFlags = data[off + 13]!;
    if (off + dataOffset > end) {
      // Options cut by the snap length: the ports and flags still count.
      view.payloadOff = end;
      return 'ok';
    }
    view.payloadOff = off + dataOffset;
    view.payloadLen = end - view.payloadOff;
    return 'ok';
  }
  if (view.proto === 17 || view.proto === 136) {
    if (off + 8 > end) return 'truncated_udp';
    view.srcPort = u16(data, off);
    view.dstPort = u16(data, off + 2);
    const udpLen = u16(data, off + 4);
    view.payloadOff = off + 8;
    const avail = end - view.payloadOff;
    view.payloadLen = udpLen >= 8 && udpLen - 8 < avail ? udpLen - 8 : avail;
    return 'ok';
  }
  // Other protocols (ICMP, GRE, ESP...) are flows without ports.
  view.payloadLen = end - off;
  return 'ok';
}
