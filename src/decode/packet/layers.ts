// Link, network and transport layers of one captured packet, decoded into a reused view.
// Facts only: where the addresses, ports and payload are. Problems come back as a reason. The
// decoding is the packet core's (wasm/core.ts); decodeLayers is its view for one packet.

import { CORE_REASONS, PacketCore, V } from './core.js';

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

let decoder: PacketCore | undefined;

/**
 * Decode the packet in `data[start, end)` captured on `linktype` into `view` (offsets in the
 * view point into `data`), as the flow tracker's packet core does (wasm/core.ts).
 */
export function decodeLayers(linktype: number, data: Buffer, view: PacketView, start = 0, end = data.length): LayerResult {
  decoder ??= new PacketCore({});
  const { result, at } = decoder.decode(linktype, data, start, end);
  if (result >= 0) {
    view.buf = data;
    return CORE_REASONS[result] as LayerResult;
  }
  readDecoded(decoder, view, data, start - at);
  return 'ok';
}

/**
 * The packet the core decoded last, into `view`: its offsets moved by `rebase` into `buf` (the
 * core's memory itself, or the buffer the packet was copied from).
 */
export function readDecoded(core: PacketCore, view: PacketView, buf: Buffer, rebase: number): void {
  const v = core.i32;
  view.buf = buf;
  view.ipVersion = v[V.ipVersion] === 6 ? 6 : 4;
  view.srcV4 = core.u32[V.srcV4]!;
  view.dstV4 = core.u32[V.dstV4]!;
  view.srcOff = core.u32[V.srcOff]! + rebase;
  view.dstOff = core.u32[V.dstOff]! + rebase;
  view.proto = v[V.proto]!;
  view.srcPort = v[V.srcPort]!;
  view.dstPort = v[V.dstPort]!;
  view.ipLength = v[V.ipLength]!;
  view.tcpFlags = v[V.tcpFlags]!;
  view.tcpSeq = core.u32[V.tcpSeq]!;
  view.payloadOff = core.u32[V.payloadOff]! + rebase;
  view.payloadLen = v[V.payloadLen]!;
  view.fragment = v[V.fragment] === 1;
  view.laterFragment = v[V.laterFragment] === 1;
}
