import type { FlowRecord } from '../record.js';

/**
 * A pure line decoder (Zeek, VPC, Squid): text in, records out. Stateful only for what the
 * format carries in-band (a Zeek `#fields` header, a VPC header line). Throws `DecodeError`
 * with a named reason for a line it rejects; the caller counts it and goes on.
 */
export interface LineDecoder {
  /** Decode one line (without its newline) and append any records to `out`. */
  decodeLine(line: string, out: FlowRecord[]): void;
}

/** A pure binary decoder for framed input (a UDP datagram, a packet). */
export interface DatagramDecoder {
  decode(data: Uint8Array, meta: { exporter: string; receivedAt: number }, out: FlowRecord[]): void;
}
