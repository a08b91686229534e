// Capture file framing: classic pcap (both byte orders, micro- and nanosecond) and pcapng
// (sections of either byte order, several interfaces, per-interface if_tsresol / if_tsoffset),
// fed in arbitrary chunks (a file or a pipe from tcpdump). The framing itself is the packet
// core's (wasm/core.ts).

import { PacketCore } from './core.js';

/** Called once per packet, found in `buf[start, end)`; `buf` is only valid during the call. */
export type PacketHandler = (linktype: number, tsMs: number, buf: Buffer, start: number, end: number, wireLength: number) => void;
/** Called for a framing problem, by reason; `fatal` when the rest of the input cannot be framed. */
export type FramingErrorHandler = (reason: string, fatal: boolean) => void;

export type CaptureFormat = 'pcap' | 'pcapng';

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;

/** Which capture format the first bytes announce, or undefined. */
export function sniffCaptureFormat(head: Uint8Array): CaptureFormat | undefined {
  if (head.length < 4) return undefined;
  const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  const le = ((head[3]! << 24) | (head[2]! << 16) | (head[1]! << 8) | head[0]!) >>> 0;
  if (be === PCAPNG_SHB) return 'pcapng';
  if (be === PCAP_MAGIC_US || le === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_NS) return 'pcap';
  return undefined;
}

/**
 * Framing alone: each packet of a capture fed in chunks goes to `onPacket` (the flow tracker
 * frames inside its packet core instead; this is for tools and tests that want the packets).
 */
export class CaptureReader {
  private readonly core: PacketCore;

  constructor(
    onPacket: PacketHandler,
    private readonly onError: FramingErrorHandler,
  ) {
    this.core = new PacketCore({ framed: (linktype, tsMs, start, length, wireLength) => onPacket(linktype, tsMs, this.core.bytes, start >>> 0, (start >>> 0) + length, wireLength) });
  }

  get captureFormat(): CaptureFormat | undefined {
    return this.core.captureFormat;
  }

  /** True once the framing is lost; later input is ignored. */
  get stopped(): boolean {
    return this.core.stopped;
  }

  /** Packets handed on so far. */
  get packets(): number {
    return this.core.packets;
  }

  /** Feed the next chunk. Throws DecodeError('bad_magic') when the input is not a capture at all. */
  feed(chunk: Buffer): void {
    try {
      this.core.feed(chunk);
    } finally {
      this.report();
    }
  }

  /** End of input: a partial record left over is counted as truncated. */
  end(): void {
    this.core.end(() => this.onError('truncated_record', false));
  }

  private report(): void {
    for (const [reason, n] of this.core.takeCounts().reasons) for (let i = 0; i < n; i++) this.onError(reason, PacketCore.fatal(reason));
  }
}
