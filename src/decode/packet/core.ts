// The packet core (wasm/core.ts, compiled to WebAssembly) from TypeScript: one instance per
// capture reader or flow tracker, its memory read through typed views. The core frames, decodes
// and keeps the flow table; the host (flows.ts) identifies flows and builds their records.

import { DecodeError } from '../../errors.js';
import { CORE_WASM } from './core-wasm.generated.js';

/** Counter reasons in the core's order (wasm/core.ts R_*); `skip` ones are skips, the rest errors. */
export const CORE_REASONS = [
  'non_ip',
  'unsupported_linktype',
  'truncated_link',
  'truncated_ip',
  'bad_ip_version',
  'bad_ip_header',
  'truncated_ipv6_ext',
  'truncated_tcp',
  'bad_tcp_header',
  'truncated_udp',
  'ip_fragment',
  'after_close',
  'bad_record_length',
  'bad_section_header',
  'bad_block_length',
  'bad_interface_block',
  'bad_packet_block',
  'unknown_interface',
] as const;
export type CoreReason = (typeof CORE_REASONS)[number];
export const SKIP_REASONS: ReadonlySet<string> = new Set(['non_ip', 'unsupported_linktype', 'ip_fragment', 'after_close']);
/** Framing problems after which the rest of the input cannot be framed. */
const FATAL_REASONS: ReadonlySet<string> = new Set(['bad_record_length', 'bad_section_header', 'bad_block_length']);

/** Why a record is due, in the core's order (wasm/core.ts END_*). */
export const END_REASONS = ['fin', 'rst', 'idle', 'active', 'evicted', 'end'] as const;
export type EndReason = (typeof END_REASONS)[number];

// Offsets (in 4-byte units) of the decoded packet's fields in the core's memory (wasm/core.ts V_*).
export const V = {
  ipVersion: 0,
  srcV4: 1,
  dstV4: 2,
  srcOff: 3,
  dstOff: 4,
  proto: 5,
  srcPort: 6,
  dstPort: 7,
  ipLength: 8,
  tcpFlags: 9,
  tcpSeq: 10,
  payloadOff: 11,
  payloadLen: 12,
  fragment: 13,
  laterFragment: 14,
  reversed: 15,
} as const;
/** In 8-byte units: the time of the packet being handled, the newest packet time. */
const V_TS_F64 = 8;
const V_NOW_F64 = 9;
const STATS = 256;
const STATS_PACKETS_F64 = (STATS + 128) / 8;

/** Why the core passes a payload packet on (wasm/core.ts INSPECT_*). */
export const INSPECT = { head: 0, datagram: 1 } as const;
/** The host's stream head of one direction (wasm/core.ts HEAD_*). */
export const HEAD = { empty: 0, held: 1, done: 2 } as const;
/** What the host identified a flow as (wasm/core.ts APP_*). */
export const APP = { known: 1, bittorrent: 2, viaTracker: 4, viaUdpTracker: 8 } as const;

// A flow slot (wasm/core.ts F_*): 128 bytes.
export const SLOT_BYTES = 128;
export const SLOT_F64 = { ts: 0, tsEnd: 1, bytesOut: 3, bytesIn: 4 } as const;
export const SLOT_U32 = { packetsOut: 10, packetsIn: 11 } as const;

export interface CoreHost {
  /** A flow opened at `slot`; the packet that opened it is in the view. */
  opened(slot: number): void;
  /** A payload packet of a flow under inspection (in the view) that a matcher may take: `kind` says why (INSPECT). */
  inspect(slot: number, outbound: number, kind: number): void;
  /** The core stopped inspecting `slot` (its packet limit) while the host held a stream head of it. */
  released(slot: number): void;
  /** A peer-wire handshake at [at, end) of `bytes` in a stream of `slot`: a complete one starting its head, or one later in it (the payload's rest). */
  handshake(slot: number, at: number, end: number): void;
  /** A uTP datagram of `slot` (in the view) no earlier matcher may take: its header's type and connection id, its data at [dataAt, payload end). */
  utp(slot: number, outbound: number, type: number, connectionId: number, dataAt: number): void;
  /** A TLS ClientHello starts the initiator's stream head of `slot`: its server name at [at, at + length) of `bytes`, length 0 when it names none. */
  clientHello(slot: number, at: number, length: number): void;
  /** The record of `slot` is due (`reason`, an END_REASONS index; -1 when it has no packets); `final` when the flow is gone. */
  ended(slot: number, reason: number, final: number): void;
  /** Frame-only cores: one framed packet at [start, start + length) of `bytes`. */
  framed(linktype: number, tsMs: number, start: number, length: number, wireLength: number): void;
}

// The WebAssembly API as used here (the ES2023 library Node's types build on does not declare it).
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * The core's exports. Memory offsets cross as wasm i32, which JavaScript reads signed: an offset
 * past 2 GiB (a flow table of millions) is read back with `>>> 0` (or through `u32`).
 */
interface CoreExports {
  memory: { buffer: ArrayBuffer };
  fixedEnd(): number;
  inputStart(): number;
  inputLength(): number;
  growInput(): number;
  init(flows: number, closed: number, idleMs: number, activeMs: number, lingerMs: number, sweepMs: number, inspectPackets: number): number;
  setFrameOnly(on: number): void;
  frame(start: number, end: number): number;
  reserveInput(size: number): number;
  captureFormat(): number;
  framingFailed(): number;
  packetsFramed(): number;
  decode(linktype: number, at: number, length: number): number;
  packet(linktype: number, tsMs: number, at: number, length: number, wireLength: number): void;
  advance(tsMs: number): void;
  finish(): void;
  setApp(slot: number, bits: number): void;
  setHead(slot: number, outbound: number, state: number): void;
  flowsTracked(): number;
  slotBase(): number;
}

/** deploy/build-wasm.mjs's --memoryBase. */
const MEMORY_BASE = 128 * 1024;
/** wasm/core.ts MAX_BLOCK: the most a record left over from one read can need (a pcapng block). */
const MAX_LEFT_OVER = 16 * 1024 * 1024;

let compiled: object | undefined;

function coreModule(): object {
  compiled ??= new wasmApi.Module(Buffer.from(CORE_WASM, 'base64'));
  return compiled;
}

export interface CoreTables {
  maxFlows: number;
  /** TCP connections remembered as closed (late ACKs make no new flow). */
  closedMax: number;
  idleTimeoutMs: number;
  activeTimeoutMs: number;
  closeLingerMs: number;
  sweepEveryMs: number;
  /** Payload packets per flow passed on for identification at most. */
  maxInspectPackets: number;
}

const FRAME_ONLY: CoreTables = { maxFlows: 1, closedMax: 0, idleTimeoutMs: 0, activeTimeoutMs: 0, closeLingerMs: 0, sweepEveryMs: 0, maxInspectPackets: 0 };

/** Counts by reason taken from a core, and its plain totals. */
export interface CoreCounts {
  reasons: Map<CoreReason, number>;
  packets: number;
  bytes: number;
  fragments: number;
  evicted: number;
}

export class PacketCore {
  private readonly core: CoreExports;
  /** The core's whole memory, and views of it: renewed when the memory grows (see `renew`). */
  bytes!: Buffer;
  i32!: Int32Array;
  u32!: Uint32Array;
  f64!: Float64Array;
  private readonly input: number;
  /** Where the flow slots start (fixed by init). */
  private readonly slots: number;
  private inputSize = 0;
  /** Bytes at the start of the input area waiting for the rest of their record. */
  private carry = 0;
  private seenBytes = false;
  /** Read slots (see `useReadSlots`): bytes per read; 0 while the input area is one. */
  private slotChunk = 0;
  /** Where the bytes carried over from the last slot framed start (slot mode). */
  private carryAt = 0;

  /** A core for `host`; without `tables`, a frame-only one (every packet goes to `host.framed`). */
  constructor(host: Partial<CoreHost>, tables?: CoreTables) {
    const fail = (name: string) => () => {
      throw new Error(`packet core called ${name}, which its host does not handle`);
    };
    const imports = {
      host: {
        opened: host.opened ?? fail('opened'),
        inspect: host.inspect ?? fail('inspect'),
        released: host.released ?? fail('released'),
        handshake: host.handshake ?? fail('handshake'),
        utp: host.utp ?? fail('utp'),
        clientHello: host.clientHello ?? fail('clientHello'),
        ended: host.ended ?? fail('ended'),
        framed: host.framed ?? fail('framed'),
      },
      env: {
        abort: () => {
          throw new Error('packet core aborted');
        },
      },
    };
    this.core = new wasmApi.Instance(coreModule(), imports).exports as CoreExports;
    // The core's static data must start above its fixed areas (deploy/build-wasm.mjs --memoryBase).
    if (this.core.fixedEnd() > MEMORY_BASE) throw new Error('packet core: fixed areas overlap its static data; raise --memoryBase');
    const t = tables ?? FRAME_ONLY;
    if (!this.core.init(t.maxFlows, t.closedMax, t.idleTimeoutMs, t.activeTimeoutMs, t.closeLingerMs, t.sweepEveryMs, t.maxInspectPackets)) {
      throw new RangeError(`packet core: no memory for ${t.maxFlows} flows`);
    }
    if (tables === undefined) this.core.setFrameOnly(1);
    this.input = this.core.inputStart() >>> 0;
    this.slots = this.core.slotBase() >>> 0;
    this.renew();
  }

  /** New views after the memory grew (its old buffer is detached). */
  private renew(): void {
    const buffer = this.core.memory.buffer;
    this.bytes = Buffer.from(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.inputSize = this.core.inputLength() >>> 0;
  }

  /** Room after the bytes carried over; the input area grows when a record fills it (a large pcapng block). */
  private roomLeft(): number {
    if (this.carry === this.inputSize && this.core.growInput()) this.renew();
    return this.inputSize - this.carry;
  }

  get captureFormat(): 'pcap' | 'pcapng' | undefined {
    const f = this.core.captureFormat();
    return f === 1 ? 'pcap' : f === 2 ? 'pcapng' : undefined;
  }

  /** True once the framing is lost; later input is ignored. */
  get stopped(): boolean {
    return this.core.framingFailed() !== 0;
  }

  /** Packets framed so far. */
  get packets(): number {
    return this.core.packetsFramed();
  }

  get trackedFlows(): number {
    return this.core.flowsTracked();
  }

  /** Newest packet time so far. */
  get now(): number {
    return this.f64[V_NOW_F64]!;
  }

  /** Time of the packet being handled. */
  get packetTime(): number {
    return this.f64[V_TS_F64]!;
  }

  /** Byte offset of flow slot `slot` in `bytes`. */
  slotOffset(slot: number): number {
    return this.slots + slot * SLOT_BYTES;
  }

  /** Frame the next chunk of a capture. Throws DecodeError('bad_magic') when the input is not a capture at all. */
  feed(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length && !this.stopped; ) {
      const take = Math.min(chunk.length - at, this.roomLeft());
      if (take === 0) return this.overflow();
      this.bytes.set(chunk.subarray(at, at + take), this.input + this.carry);
      at += take;
      this.framed(take);
    }
  }

  /** The free room of the input area, for a read of the capture (then call `filled`). */
  room(): Buffer {
    const left = this.roomLeft();
    if (left === 0) this.overflow();
    return this.bytes.subarray(this.input + this.carry, this.input + this.carry + left);
  }

  /** `n` bytes were written at the start of `room()`: frame them. */
  filled(n: number): void {
    if (n > 0 && !this.stopped) this.framed(n);
  }

  private overflow(): never {
    throw new DecodeError('bad_block_length', 'capture record larger than the input area');
  }

  private framed(n: number): void {
    if (n > 0) this.seenBytes = true;
    const end = this.carry + n;
    const used = this.frameRange(0, end);
    this.carry = end - used;
    if (this.carry > 0 && used > 0) this.bytes.copyWithin(this.input, this.input + used, this.input + end);
  }

  private frameRange(start: number, end: number): number {
    const used = this.core.frame(start, end);
    if (used < 0) throw new DecodeError('bad_magic', 'input is neither pcap nor pcapng (unknown magic bytes)');
    return used;
  }

  /**
   * Two read slots of `chunk` bytes in the input area instead of one room, so that a file read
   * can fill one slot while the other is framed. Each slot has room before it for what the slot
   * before left over (the largest pcapng block), which only a record that large ever touches.
   */
  useReadSlots(chunk: number): void {
    if (this.carry > 0 || this.slotChunk > 0) throw new Error('packet core: read slots after input');
    if (!this.core.reserveInput(2 * (MAX_LEFT_OVER + chunk))) throw new RangeError('packet core: no memory for its read slots');
    this.renew();
    this.slotChunk = chunk;
  }

  /** Offset in the input area where slot `k`'s read goes. */
  private slotStart(k: number): number {
    return MAX_LEFT_OVER + k * (MAX_LEFT_OVER + this.slotChunk);
  }

  /** Where a read of slot `k` (0 or 1) goes; then `takeSlot(k)` and `frameSlot(k, n)`. */
  slot(k: number): Buffer {
    const at = this.input + this.slotStart(k);
    return this.bytes.subarray(at, at + this.slotChunk);
  }

  /**
   * Slot `k` was read: the bytes the other slot left over move in before it, after which the
   * other slot is free for the next read.
   */
  takeSlot(k: number): void {
    const at = this.slotStart(k) - this.carry;
    if (this.carry > 0) this.bytes.copyWithin(this.input + at, this.input + this.carryAt, this.input + this.carryAt + this.carry);
    this.carryAt = at;
  }

  /** Frame the `n` bytes read into slot `k` after the bytes taken over (`takeSlot`). */
  frameSlot(k: number, n: number): void {
    if (this.stopped) return;
    if (n > 0) this.seenBytes = true;
    const start = this.carryAt;
    const end = this.slotStart(k) + n;
    const used = this.frameRange(start, end);
    this.carryAt = start + used;
    this.carry = end - this.carryAt;
  }

  /** End of input: throws when no capture header came; a partial record left over is counted by `onTruncated`. */
  end(onTruncated: () => void): void {
    if (this.stopped) return;
    if (this.captureFormat === undefined) {
      if (this.seenBytes) throw new DecodeError('bad_magic', 'input too short for a capture header');
      throw new DecodeError('empty_input', 'empty input: no capture header');
    }
    if (this.carry > 0) onTruncated();
    this.carry = 0;
  }

  /** One packet framed elsewhere: copied into the core's memory unless it is there already. */
  packet(linktype: number, tsMs: number, data: Uint8Array, wireLength: number, start: number, end: number): void {
    let at: number;
    if (data.buffer === this.bytes.buffer) at = data.byteOffset + start;
    else {
      const length = Math.min(end - start, this.roomLeft());
      this.bytes.set(data.subarray(start, start + length), this.input + this.carry);
      at = this.input + this.carry;
      end = start + length;
    }
    this.core.packet(linktype, tsMs, at, end - start, wireLength);
  }

  /**
   * Decode one packet into the view (the core's memory) and return its reason (-1 decoded): the
   * packet is copied to the input area first.
   */
  decode(linktype: number, data: Uint8Array, start: number, end: number): { result: number; at: number } {
    const length = Math.min(end - start, this.roomLeft());
    const at = this.input + this.carry;
    this.bytes.set(data.subarray(start, start + length), at);
    return { result: this.core.decode(linktype, at, length), at };
  }

  advance(tsMs: number): void {
    this.core.advance(tsMs);
  }

  finish(): void {
    this.core.finish();
  }

  /** What the host identified the flow as (APP bits): the core's screening depends on it. */
  setApp(slot: number, bits: number): void {
    this.core.setApp(slot, bits);
  }

  /** The host's stream head of one direction (HEAD). */
  setHead(slot: number, outbound: boolean, state: number): void {
    this.core.setHead(slot, outbound ? 1 : 0, state);
  }

  /** Whether a framing reason is fatal (the rest of the input is ignored). */
  static fatal(reason: string): boolean {
    return FATAL_REASONS.has(reason);
  }

  /** Take the counters (and zero them): counts by reason, packets, bytes, fragments, evictions. */
  takeCounts(): CoreCounts {
    const reasons = new Map<CoreReason, number>();
    const base = STATS / 4;
    for (let i = 0; i < CORE_REASONS.length; i++) {
      const n = this.u32[base + i]!;
      if (n > 0) {
        reasons.set(CORE_REASONS[i]!, n);
        this.u32[base + i] = 0;
      }
    }
    const f = STATS_PACKETS_F64;
    const counts = { reasons, packets: this.f64[f]!, bytes: this.f64[f + 1]!, fragments: this.f64[f + 2]!, evicted: this.f64[f + 3]! };
    this.f64.fill(0, f, f + 4);
    return counts;
  }
}
