// Captures made on the loopback interface have 127.0.0.1 on both ends, so no side is internal
// and nothing is egress. For the evaluation, give each connection a direction: whoever opened it
// (TCP SYN, else first datagram) becomes the internal host, the listening side an outside
// address derived from its port. Checksums are recomputed so the rewritten capture stays valid.

const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;

function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

function onesComplementSum(buf: Buffer, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += buf.readUInt16BE(i);
  if ((end - start) % 2 === 1) sum += buf[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

interface Packet {
  /** Offset of the IPv4 header inside the file buffer. */
  ip: number;
  ipEnd: number;
  /** Offset of the TCP/UDP header. */
  l4: number;
  proto: number;
  sport: number;
  dport: number;
}

/** Walk a classic pcap of Ethernet frames and yield its loopback IPv4 TCP/UDP packets with ports. */
function* loopbackPackets(buf: Buffer): Generator<Packet> {
  const magic = buf.readUInt32LE(0);
  const littleEndian = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const bigEndian = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!littleEndian && !bigEndian) return;
  const u32 = (o: number): number => (littleEndian ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  if (u32(20) !== LINKTYPE_ETHERNET) return;
  let off = 24;
  while (off + 16 <= buf.length) {
    const captured = u32(off + 8);
    const frame = off + 16;
    off = frame + captured;
    if (off > buf.length || captured < 14 + 20) continue;
    if (buf.readUInt16BE(frame + 12) !== ETHERTYPE_IPV4) continue;
    const ip = frame + 14;
    if (buf[ip]! >> 4 !== 4) continue;
    const proto = buf[ip + 9]!;
    if ((proto !== 6 && proto !== 17) || buf[ip + 12] !== 127 || buf[ip + 16] !== 127) continue;
    const ipEnd = Math.min(off, ip + buf.readUInt16BE(ip + 2));
    const l4 = ip + (buf[ip]! & 0x0f) * 4;
    if (l4 + 4 > ipEnd) continue;
    yield { ip, ipEnd, l4, proto, sport: buf.readUInt16BE(l4), dport: buf.readUInt16BE(l4 + 2) };
  }
}

/**
 * A copy of a loopback capture where each connection's opener is `internal` and its listener
 * `${externalPrefix}.<1..250 from its port>`. Undefined when the capture is not a classic pcap
 * of Ethernet frames (pcapng, other link types) or holds no loopback traffic.
 */
export function orientLoopbackCapture(input: Buffer, internal = '10.99.0.1', externalPrefix = '198.51.100'): Buffer | undefined {
  if (input.length < 24) return undefined;
  const out = Buffer.from(input);
  const opener = new Map<string, number>();
  const connectionKey = (proto: number, a: number, b: number): string => `${proto}|${Math.min(a, b)}|${Math.max(a, b)}`;
  let seen = 0;
  for (const { ipEnd, l4, proto, sport, dport } of loopbackPackets(out)) {
    const key = connectionKey(proto, sport, dport);
    const syn = proto === 6 && l4 + 14 <= ipEnd && (out[l4 + 13]! & 0x12) === 0x02;
    if (syn || !opener.has(key)) opener.set(key, sport);
    seen++;
  }
  if (seen === 0) return undefined;
  const internalBytes = ipv4Bytes(internal);
  for (const p of loopbackPackets(out)) {
    const { l4, proto, sport, dport } = p;
    const fromOpener = opener.get(connectionKey(proto, sport, dport)) === sport;
    const listenerPort = fromOpener ? dport : sport;
    const outside = [...ipv4Bytes(externalPrefix), 1 + (listenerPort % 250)];
    const src = fromOpener ? internalBytes : outside;
    const dst = fromOpener ? outside : internalBytes;
    for (let i = 0; i < 4; i++) {
      out[p.ip + 12 + i] = src[i]!;
      out[p.ip + 16 + i] = dst[i]!;
    }
    out.writeUInt16BE(0, p.ip + 10);
    out.writeUInt16BE(~onesComplementSum(out, p.ip, l4) & 0xffff, p.ip + 10);
    // Transport checksum over the pseudo-header; UDP's "no checksum" (0) stays as it is.
    const checksumAt = proto === 6 ? l4 + 16 : l4 + 6;
    if (checksumAt + 2 > p.ipEnd || (proto === 17 && out.readUInt16BE(checksumAt) === 0)) continue;
    out.writeUInt16BE(0, checksumAt);
    const length = p.ipEnd - l4;
    let pseudo = onesComplementSum(out, p.ip + 12, p.ip + 20);
    pseudo += proto + length;
    const sum = onesComplementSum(out, l4, p.ipEnd, pseudo);
    const checksum = ~sum & 0xffff;
    out.writeUInt16BE(proto === 17 && checksum === 0 ? 0xffff : checksum, checksumAt);
  }
  return out;
}
