// Capture file framing: classic pcap (both byte orders, micro- and nanosecond) and pcapng
// (sections of either byte order, several interfaces, per-interface if_tsresol / if_tsoffset).
// Fed in arbitrary chunks (a file or a pipe from tcpdump); hands each packet on as a view
// into the chunk, without copying.

import { DecodeError } from '../../errors.js';

/** Called once per packet, found in `buf[start, end)`; `buf` is only valid during the call. */
export type PacketHandler = (linktype: number, tsMs: number, buf: Buffer, start: number, end: number, wireLength: number) => void;
/** Called for a framing problem, by reason; `fatal` when the rest of the input cannot be framed. */
export type FramingErrorHandler = (reason: string, fatal: boolean) => void;

export type CaptureFormat = 'pcap' | 'pcapng';

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER = 0x1a2b3c4d;

/** Largest packet record we accept; anything bigger means the framing is lost. */
const MAX_RECORD = 256 * 1024;
/** Largest pcapng block (IDB with options, name resolution...). */
const MAX_BLOCK = 16 * 1024 * 1024;
/** Bytes of the next chunk joined to a leftover partial record whose length is not known yet. */
const STITCH_BYTES = 64 * 1024 + 64;

// Record headers read straight from the bytes (bounds checked by the caller): these inline
// where readUInt32LE does not, which counts at a million records a second.
function u32le(buf: Buffer, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

function u32be(buf: Buffer, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** Which capture format the first bytes announce, or undefined. */
export function sniffCaptureFormat(head: Uint8Array): CaptureFormat | undefined {
  if (head.length < 4) return undefined;
  const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  const le = ((head[3]! << 24) | (head[2]! << 16) | (head[1]! << 8) | head[0]!) >>> 0;
  if (be === PCAPNG_SHB) return 'pcapng';
  if (be === PCAP_MAGIC_US || le === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_NS) return 'pcap';
  return undefined;
}

interface PcapngInterface {
  linktype: number;
  /** Timestamp units per millisecond. */
  unitsPerMs: number;
  /** if_tsoffset in milliseconds. */
  offsetMs: number;
}

export class CaptureReader {
  private pending: Buffer | undefined;
  private format: CaptureFormat | undefined;
  private failed = false;
  // classic pcap
  private littleEndian = true;
  private nanoseconds = false;
  private linktype = 1;
  // pcapng
  private interfaces: PcapngInterface[] = [];
  private lastTsMs = 0;
  /** Packets handed on so far. */
  packets = 0;

  constructor(
    private readonly onPacket: PacketHandler,
    private readonly onError: FramingErrorHandler,
  ) {}

  get captureFormat(): CaptureFormat | undefined {
    return this.format;
  }

  /** True once the framing is lost; later input is ignored. */
  get stopped(): boolean {
    return this.failed;
  }

  /** Feed the next chunk. Throws DecodeError('bad_magic') when the input is not a capture at all. */
  feed(chunk: Buffer): void {
    if (this.failed) return;
    let buf = chunk;
    let pos = 0;
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined && pending.length > 0) {
      if (this.format !== undefined) {
        // Finish the record that straddles the chunk boundary from a small stitched buffer,
        // then go on in the chunk itself: no copy of the whole chunk.
        const stitched = Buffer.concat([pending, chunk.subarray(0, Math.min(chunk.length, this.bytesToFinish(pending)))]);
        const used = this.readRecords(stitched, 0, pending.length);
        if (this.failed) return;
        if (used >= pending.length) pos = used - pending.length;
        else buf = Buffer.concat([pending, chunk]);
      } else buf = Buffer.concat([pending, chunk]);
    }
    if (this.format === undefined) {
      if (buf.length < 4) {
        this.pending = buf;
        return;
      }
      const format = sniffCaptureFormat(buf);
      if (format === undefined) {
        this.failed = true;
        throw new DecodeError('bad_magic', 'input is neither pcap nor pcapng (unknown magic bytes)');
      }
      if (format === 'pcap') {
        if (buf.length < 24) {
          this.pending = buf;
          return;
        }
        this.readPcapHeader(buf);
        pos = 24;
      }
      this.format = format;
    }
    pos = this.readRecords(buf, pos, buf.length);
    if (!this.failed && pos < buf.length) this.pending = Buffer.from(buf.subarray(pos));
  }

  /** Bytes of the next chunk that complete the record begun in `pending` (a guess when its header is cut). */
  private bytesToFinish(pending: Buffer): number {
    let length = 0;
    if (this.format === 'pcap' && pending.length >= 16) length = 16 + (this.littleEndian ? u32le(pending, 8) : u32be(pending, 8));
    else if (this.format === 'pcapng' && pending.length >= 8 && u32be(pending, 0) !== PCAPNG_SHB) length = this.littleEndian ? u32le(pending, 4) : u32be(pending, 4);
    return length > pending.length ? length - pending.length : STITCH_BYTES;
  }

  /** Read whole records starting at `start` until past `stopAt` or out of bytes; returns the next position. */
  private readRecords(buf: Buffer, start: number, stopAt: number): number {
    return this.format === 'pcap' ? this.readPcapRecords(buf, start, stopAt) : this.readPcapngBlocks(buf, start, stopAt);
  }

  /** End of input: a partial record left over is counted as truncated. */
  end(): void {
    if (this.failed) return;
    if (this.format === undefined) {
      if (this.pending && this.pending.length > 0) throw new DecodeError('bad_magic', 'input too short for a capture header');
      throw new DecodeError('empty_input', 'empty input: no capture header');
    }
    if (this.pending && this.pending.length > 0) this.onError('truncated_record', false);
    this.pending = undefined;
  }

  private readPcapHeader(buf: Buffer): void {
    const magicLe = buf.readUInt32LE(0);
    this.littleEndian = magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS;
    const magic = this.littleEndian ? magicLe : buf.readUInt32BE(0);
    this.nanoseconds = magic === PCAP_MAGIC_NS;
    // The FCS-present bits share the link-type field (upper bits); keep the type itself.
    this.linktype = (this.littleEndian ? buf.readUInt32LE(20) : buf.readUInt32BE(20)) & 0x0fffffff;
  }

  private readPcapRecords(buf: Buffer, start: number, stopAt: number): number {
    let pos = start;
    const le = this.littleEndian;
    const fraction = this.nanoseconds ? 1e6 : 1e3;
    const onPacket = this.onPacket;
    const linktype = this.linktype;
    const length = buf.length;
    while (pos < stopAt && pos + 16 <= length) {
      const sec = le ? u32le(buf, pos) : u32be(buf, pos);
      const sub = le ? u32le(buf, pos + 4) : u32be(buf, pos + 4);
      const capLen = le ? u32le(buf, pos + 8) : u32be(buf, pos + 8);
      const wireLen = le ? u32le(buf, pos + 12) : u32be(buf, pos + 12);
      if (capLen > MAX_RECORD) {
        this.fail('bad_record_length');
        return pos;
      }
      if (pos + 16 + capLen > length) break;
      const start = pos + 16;
      pos = start + capLen;
      this.packets++;
      onPacket(linktype, sec * 1000 + sub / fraction, buf, start, pos, wireLen < capLen ? capLen : wireLen);
    }
    return pos;
  }

  private readPcapngBlocks(buf: Buffer, start: number, stopAt: number): number {
    let pos = start;
    while (pos < stopAt && pos + 12 <= buf.length) {
      // A section header resets the byte order; it is recognised in either order.
      const typeBe = buf.readUInt32BE(pos);
      if (typeBe === PCAPNG_SHB) {
        const bom = buf.readUInt32LE(pos + 8);
        if (bom === PCAPNG_BYTE_ORDER) this.littleEndian = true;
        else if (buf.readUInt32BE(pos + 8) === PCAPNG_BYTE_ORDER) this.littleEndian = false;
        else {
          this.fail('bad_section_header');
          return pos;
        }
        this.interfaces = [];
      }
      const le = this.littleEndian;
      const type = le ? buf.readUInt32LE(pos) : typeBe;
      const length = le ? buf.readUInt32LE(pos + 4) : buf.readUInt32BE(pos + 4);
      if (length < 12 || length % 4 !== 0 || length > MAX_BLOCK) {
        this.fail('bad_block_length');
        return pos;
      }
      if (pos + length > buf.length) break;
      const body = pos + 8;
      const bodyEnd = pos + length - 4;
      switch (type) {
        case 1:
          this.readInterfaceBlock(buf, body, bodyEnd);
          break;
        case 6:
          this.readEnhancedPacket(buf, body, bodyEnd);
          break;
        case 3:
          this.readSimplePacket(buf, body, bodyEnd);
          break;
        case 2:
          this.readObsoletePacket(buf, body, bodyEnd);
          break;
        default:
          // Section header, name resolution, statistics, custom blocks: nothing to decode.
          break;
      }
      pos += length;
    }
    return pos;
  }

  private readInterfaceBlock(buf: Buffer, body: number, bodyEnd: number): void {
    if (bodyEnd - body < 8) {
      this.onError('bad_interface_block', false);
      return;
    }
    const le = this.littleEndian;
    const linktype = le ? buf.readUInt16LE(body) : buf.readUInt16BE(body);
    let unitsPerMs = 1000; // default resolution: microseconds
    let offsetMs = 0;
    let opt = body + 8;
    while (opt + 4 <= bodyEnd) {
      const code = le ? buf.readUInt16LE(opt) : buf.readUInt16BE(opt);
      const len = le ? buf.readUInt16LE(opt + 2) : buf.readUInt16BE(opt + 2);
      if (code === 0 || opt + 4 + len > bodyEnd) break;
      if (code === 9 && len >= 1) {
        const v = buf[opt + 4]!;
        // MSB clear: 10^-v seconds; set: 2^-v seconds.
        const perSecond = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
        unitsPerMs = perSecond / 1000;
      } else if (code === 14 && len >= 8) {
        const hi = le ? buf.readInt32LE(opt + 8) : buf.readInt32BE(opt + 4);
        const lo = le ? buf.readUInt32LE(opt + 4) : buf.readUInt32BE(opt + 8);
        offsetMs = (hi * 4294967296 + lo) * 1000;
      }
      opt += 4 + ((len + 3) & ~3);
    }
    this.interfaces.push({ linktype, unitsPerMs, offsetMs });
  }

  private timestamp(iface: PcapngInterface, hi: number, lo: number): number {
    const ts = (hi * 4294967296 + lo) / iface.unitsPerMs + iface.offsetMs;
    this.lastTsMs = ts;
    return ts;
  }

  private readEnhancedPacket(buf: Buffer, body: number, bodyEnd: number): void {
    if (bodyEnd - body < 20) {
      this.onError('bad_packet_block', false);
      return;
    }
    const le = this.littleEndian;
    const ifaceId = le ? buf.readUInt32LE(body) : buf.readUInt32BE(body);
    const hi = le ? buf.readUInt32LE(body + 4) : buf.readUInt32BE(body + 4);
    const lo = le ? buf.readUInt32LE(body + 8) : buf.readUInt32BE(body + 8);
    const capLen = le ? buf.readUInt32LE(body + 12) : buf.readUInt32BE(body + 12);
    const wireLen = le ? buf.readUInt32LE(body + 16) : buf.readUInt32BE(body + 16);
    const iface = this.interfaces[ifaceId];
    if (iface === undefined) {
      this.onError('unknown_interface', false);
      return;
    }
    if (body + 20 + capLen > bodyEnd) {
      this.onError('bad_packet_block', false);
      return;
    }
    this.packets++;
    this.onPacket(iface.linktype, this.timestamp(iface, hi, lo), buf, body + 20, body + 20 + capLen, wireLen < capLen ? capLen : wireLen);
  }

  private readSimplePacket(buf: Buffer, body: number, bodyEnd: number): void {
    const iface = this.interfaces[0];
    if (iface === undefined || bodyEnd - body < 4) {
      this.onError(iface === undefined ? 'unknown_interface' : 'bad_packet_block', false);
      return;
    }
    const wireLen = this.littleEndian ? buf.readUInt32LE(body) : buf.readUInt32BE(body);
    const capLen = Math.min(wireLen, bodyEnd - body - 4);
    this.packets++;
    // A simple packet block carries no timestamp: the previous packet's time stands in.
    this.onPacket(iface.linktype, this.lastTsMs, buf, body + 4, body + 4 + capLen, wireLen);
  }

  private readObsoletePacket(buf: Buffer, body: number, bodyEnd: number): void {
    if (bodyEnd - body < 20) {
      this.onError('bad_packet_block', false);
      return;
    }
    const le = this.littleEndian;
    const ifaceId = le ? buf.readUInt16LE(body) : buf.readUInt16BE(body);
    const hi = le ? buf.readUInt32LE(body + 4) : buf.readUInt32BE(body + 4);
    const lo = le ? buf.readUInt32LE(body + 8) : buf.readUInt32BE(body + 8);
    const capLen = le ? buf.readUInt32LE(body + 12) : buf.readUInt32BE(body + 12);
    const wireLen = le ? buf.readUInt32LE(body + 16) : buf.readUInt32BE(body + 16);
    const iface = this.interfaces[ifaceId];
    if (iface === undefined || body + 20 + capLen > bodyEnd) {
      this.onError(iface === undefined ? 'unknown_interface' : 'bad_packet_block', false);
      return;
    }
    this.packets++;
    this.onPacket(iface.linktype, this.timestamp(iface, hi, lo), buf, body + 20, body + 20 + capLen, wireLen < capLen ? capLen : wireLen);
  }

  private fail(reason: string): void {
    this.failed = true;
    this.pending = undefined;
    this.onError(reason, true);
  }
}
