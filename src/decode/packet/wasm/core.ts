// The packet core, in AssemblyScript (compiled to WebAssembly by `npm run build:wasm`): capture
// framing (pcap and pcapng), link/IP/transport decoding, the flow table (5-tuple lookup,
// counters, FIN/RST closing, idle and active timeouts, eviction) and the screening of payload
// packets for identification. Identification and records stay in TypeScript (../flows.ts): the
// core calls out when a flow opens, when a payload packet may carry evidence (a stream head no
// first byte rules out, a handshake later in a stream, a datagram some matcher may take, a uTP
// header it read), and when a flow's record is due.
//
// Memory (grown by `init`, `growInput` and `reserveInput` only: the host renews its views after
// those):
//   VIEW       the packet being handled, decoded (fields below, read by the host)
//   STATS      counters by reason, read and zeroed by the host
//   IFACES     pcapng interfaces of the current section
//   then the flow slots, the flow hash buckets, the closed-connection entries and their buckets,
//   and last the input area, capture bytes to frame (the host reads or copies them there): one
//   room that grows when a pcapng block does not fit, or, for file reads, two read slots the host
//   lays out in it (`reserveInput`). `frame` takes any range of it.

// ---- host calls ----

@external("host", "opened")
declare function hostOpened(slot: i32): void;
@external("host", "inspect")
declare function hostInspect(slot: i32, outbound: i32, kind: i32): void;
@external("host", "released")
declare function hostReleased(slot: i32): void;
@external("host", "handshake")
declare function hostHandshake(slot: i32, at: i32, end: i32): void;
@external("host", "utp")
declare function hostUtp(slot: i32, outbound: i32, type: i32, connectionId: i32, dataAt: i32): void;
@external("host", "clientHello")
declare function hostClientHello(slot: i32, nameAt: i32, nameLength: i32): void;
@external("host", "ended")
declare function hostEnded(slot: i32, reason: i32, final: i32): void;
@external("host", "framed")
declare function hostFramed(linktype: i32, tsMs: f64, start: i32, len: i32, wireLength: u32): void;

// ---- layout ----

const VIEW: usize = 0;
const STATS: usize = 256;
const IFACES: usize = 4096;
/** Interfaces a pcapng section may describe; packets on later ones count as unknown_interface. */
const MAX_IFACES: i32 = 4096;
const IFACE_SIZE: usize = 24;
/** End of the fixed areas; deploy/build-wasm.mjs puts the compiler's static data above it. */
const TABLES: usize = IFACES + <usize>MAX_IFACES * IFACE_SIZE;
/** Start and size of the input area. Up to 2 MiB a record left over and the next read fit. */
let input: usize = 0;
let inputSize: usize = 2 << 20;
/** Room for the largest pcapng block (16 MiB) left over from one read, plus the next read. */
const MAX_INPUT: usize = 32 << 20;

// VIEW fields (byte offsets); i32 unless noted.
const V_IP_VERSION = 0;
const V_SRC_V4 = 4; // u32
const V_DST_V4 = 8; // u32
const V_SRC_OFF = 12;
const V_DST_OFF = 16;
const V_PROTO = 20;
const V_SRC_PORT = 24;
const V_DST_PORT = 28;
const V_IP_LENGTH = 32;
const V_TCP_FLAGS = 36;
const V_TCP_SEQ = 40; // u32
const V_PAYLOAD_OFF = 44;
const V_PAYLOAD_LEN = 48;
const V_FRAGMENT = 52;
const V_LATER_FRAGMENT = 56;
/** Set for `opened`: the packet is the responder's (a SYN-ACK opened the flow). */
const V_REVERSED = 60;
const V_TS = 64; // f64, the packet's time
const V_NOW = 72; // f64, newest packet time so far

// STATS: u32 counters by reason code (../core.ts names them; room for 32), then totals.
const S_PACKETS = STATS + 128; // f64
const S_BYTES = STATS + 136; // f64
const S_FRAGMENTS = STATS + 144; // f64
const S_EVICTED = STATS + 152; // f64

// Reason codes (same order as CORE_REASONS in ../core.ts).
const R_NON_IP = 0;
const R_UNSUPPORTED_LINKTYPE = 1;
const R_TRUNCATED_LINK = 2;
const R_TRUNCATED_IP = 3;
const R_BAD_IP_VERSION = 4;
const R_BAD_IP_HEADER = 5;
const R_TRUNCATED_IPV6_EXT = 6;
const R_TRUNCATED_TCP = 7;
const R_BAD_TCP_HEADER = 8;
const R_TRUNCATED_UDP = 9;
const R_IP_FRAGMENT = 10;
const R_AFTER_CLOSE = 11;
const R_BAD_RECORD_LENGTH = 12;
const R_BAD_SECTION_HEADER = 13;
const R_BAD_BLOCK_LENGTH = 14;
const R_BAD_INTERFACE_BLOCK = 15;
const R_BAD_PACKET_BLOCK = 16;
const R_UNKNOWN_INTERFACE = 17;
const R_OK: i32 = -1;

// End reasons (END_REASONS in ../core.ts).
const END_FIN = 0;
const END_RST = 1;
const END_IDLE = 2;
const END_ACTIVE = 3;
const END_EVICTED = 4;
const END_END = 5;

// A key block, in flow slots, closed-connection entries and for the packet being handled alike:
// protocol, address family, ports, hash, then both addresses, the lower endpoint (bytes, then
// port) first. Its padding stays zero, so two blocks compare as six 64-bit words.
const K_PROTO = 0; // u8
const K_V6 = 1; // u8
const K_LOW_PORT = 4; // u16
const K_HIGH_PORT = 6; // u16
const K_HASH = 8; // u32
const K_LOW = 16; // 16 bytes (IPv4: 4)
const K_HIGH = 32; // 16 bytes
const KEY_SIZE: usize = 48;

// A table entry's links: next in its hash chain, previous and next in creation order (next also
// chains the free list).
const L_HASH_NEXT = 0; // i32
const L_PREV = 4; // i32
const L_NEXT = 8; // i32

// A flow slot.
const SLOT: usize = 128;
const F_TS = 0; // f64
const F_TS_END = 8; // f64
const F_CLOSED = 16; // u8, FIN both ways or RST seen
const F_APP = 17; // u8, APP_* bits: what the host identified (setApp)
const F_INSPECTED = 18; // u16, payload packets inspected
const F_SEQ_OUT = 20; // u32, next in-order sequence number of the initiator's stream head
const F_BYTES_OUT = 24; // f64
const F_BYTES_IN = 32; // f64
const F_PACKETS_OUT = 40; // u32
const F_PACKETS_IN = 44; // u32
const F_RESTART = 48; // u8
const F_FIN_OUT = 49; // u8
const F_FIN_IN = 50; // u8
const F_INSPECT_DONE = 51; // u8
const F_CLOSE_REASON = 52; // u8
const F_INITIATOR_LOW = 53; // u8 (IPv6)
const F_SRC_PORT = 54; // u16, the initiator's port
const F_INITIATOR_V4 = 56; // u32
const F_SEQ_IN = 60; // u32, the responder's
const F_LINKS = 64;
const F_HEAD_OUT = 76; // u8, HEAD_* state of the initiator's stream head (| HEAD_SEQ once a segment came)
const F_HEAD_IN = 77; // u8, the responder's
const F_KEY = 80;

// A closed-connection entry (a TCP flow ended after FIN/RST): late ACKs make no new flow.
const CLOSED: usize = 80;
const C_EXPIRES = 0; // f64
const C_LINKS = 8;
const C_KEY = 32;

// What the host identified (F_APP).
const APP_KNOWN: u8 = 1;
const APP_BITTORRENT: u8 = 2;
const APP_VIA_TRACKER: u8 = 4;
const APP_VIA_UDP_TRACKER: u8 = 8;

// Stream head states (F_HEAD_*): collecting with no bytes held by the host, collecting with
// bytes held by the host, decided.
const HEAD_EMPTY: u8 = 0;
const HEAD_HELD: u8 = 1;
const HEAD_DONE: u8 = 2;
const HEAD_STATE: u8 = 3;
const HEAD_SEQ: u8 = 4;

// Why `inspect` is called (INSPECT_* in ../core.ts).
const INSPECT_HEAD = 0;
const INSPECT_DATAGRAM = 1;

const TCP_FIN: u32 = 0x01;
const TCP_SYN: u32 = 0x02;
const TCP_RST: u32 = 0x04;
const TCP_ACK: u32 = 0x10;

// ---- state ----

// Table descriptors: flows and closed connections share the code of a hash table whose entries
// also keep their creation order (for eviction, timeouts and end of input, oldest first).
const FLOWS: usize = 512;
const CLOSEDS: usize = 576;
const T_BASE = 0; // u32, first entry
const T_SIZE = 4; // u32, bytes an entry
const T_LINKS = 8; // u32, offset of its links
const T_KEY = 12; // u32, offset of its key block
const T_BUCKETS = 16; // u32, first bucket head (entry + 1, 0 empty: fresh memory is an empty table)
const T_MASK = 20; // u32, buckets - 1
const T_OLDEST = 24; // i32
const T_NEWEST = 28; // i32
const T_FREE = 32; // i32, free list
const T_UNUSED = 36; // i32, entries never used from here on: memory is touched as used
const T_COUNT = 40; // i32

let slots: usize = 0;
let maxFlows: i32 = 0;
let maxInspect: i32 = 0;
let closedMax: i32 = 0;

let idleTimeoutMs: f64 = 0;
let activeTimeoutMs: f64 = 0;
let closeLingerMs: f64 = 0;
let sweepEveryMs: f64 = 0;
let nextSweep: f64 = 0;

/** The key block of the packet being handled. */
const KEY: usize = 192;
/** 1: the packet's source is the lower endpoint; 0: the higher; 2: both endpoints are equal. */
let keySrcLow: i32 = 0;

@inline function be16(p: usize): u32 {
  return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p + 1);
}

@inline function be32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

@inline function le32(p: usize): u32 {
  return load<u32>(p);
}

@inline function rd32(p: usize, littleEndian: bool): u32 {
  return littleEndian ? load<u32>(p) : bswap<u32>(load<u32>(p));
}

@inline function rd16(p: usize, littleEndian: bool): u32 {
  const v = <u32>load<u16>(p);
  return littleEndian ? v : (<u32>bswap<u16>(<u16>v));
}

@inline function count(reason: i32): void {
  const p = STATS + (<usize>reason << 2);
  store<u32>(p, load<u32>(p) + 1);
}

@inline function addF(p: usize, v: f64): void {
  store<f64>(p, load<f64>(p) + v);
}

@inline function slotAt(i: i32): usize {
  return slots + <usize>i * SLOT;
}

function pow2AtLeast(n: i32): u32 {
  let p: u32 = 16;
  while (p < <u32>n) p <<= 1;
  return p;
}

/**
 * Lay out the tables for `flows` flows and `closed` closed-connection entries; returns false
 * when the memory cannot grow that far. Called once, before anything else.
 */
export function init(flows: i32, closed: i32, idleMs: f64, activeMs: f64, lingerMs: f64, sweepMs: f64, inspectPackets: i32): bool {
  maxFlows = flows;
  maxInspect = inspectPackets;
  closedMax = closed;
  idleTimeoutMs = idleMs;
  activeTimeoutMs = activeMs;
  closeLingerMs = lingerMs;
  sweepEveryMs = sweepMs;
  // The compiler's static data (Math.pow's tables) sits at --memoryBase, above TABLES: the
  // tables start after it.
  slots = (__heap_base + 15) & ~15;
  let end = describe(FLOWS, slots, SLOT, F_LINKS, F_KEY, flows);
  // One closed entry more than kept: a new one is in before the oldest goes.
  end = describe(CLOSEDS, end, CLOSED, C_LINKS, C_KEY, closed + 1);
  input = (end + 0xffff) & ~0xffff;
  return reserve(input + inputSize);
}

/** Lay out table `t` at `base` for `entries` entries, then its buckets; returns where it ends. */
function describe(t: usize, base: usize, size: usize, links: usize, key: usize, entries: i32): usize {
  const buckets = pow2AtLeast(entries * 2);
  const bucketsAt = base + <usize>(entries + 1) * size;
  store<u32>(t + T_BASE, <u32>base);
  store<u32>(t + T_SIZE, <u32>size);
  store<u32>(t + T_LINKS, <u32>links);
  store<u32>(t + T_KEY, <u32>key);
  store<u32>(t + T_BUCKETS, <u32>bucketsAt);
  store<u32>(t + T_MASK, buckets - 1);
  store<i32>(t + T_OLDEST, -1);
  store<i32>(t + T_NEWEST, -1);
  store<i32>(t + T_FREE, -1);
  store<i32>(t + T_UNUSED, 0);
  store<i32>(t + T_COUNT, 0);
  return bucketsAt + <usize>buckets * 4;
}

@inline function entry(t: usize, i: i32): usize {
  return <usize>load<u32>(t + T_BASE) + <usize>i * <usize>load<u32>(t + T_SIZE);
}

@inline function linksOf(t: usize, i: i32): usize {
  return entry(t, i) + <usize>load<u32>(t + T_LINKS);
}

@inline function bucketOf(t: usize, hash: u32): usize {
  return <usize>load<u32>(t + T_BUCKETS) + (<usize>(hash & load<u32>(t + T_MASK)) << 2);
}

/** Key blocks equal but for their hash (the packet's is not computed yet). */
@inline function sameFlowKey(a: usize, b: usize): bool {
  return (
    load<u64>(a) == load<u64>(b) &&
    load<u64>(a, 16) == load<u64>(b, 16) &&
    load<u64>(a, 24) == load<u64>(b, 24) &&
    load<u64>(a, 32) == load<u64>(b, 32) &&
    load<u64>(a, 40) == load<u64>(b, 40)
  );
}

@inline function sameKey(a: usize, b: usize): bool {
  return load<u64>(a, 8) == load<u64>(b, 8) && sameFlowKey(a, b);
}

/** The entry of table `t` whose key block equals the one at `key`, or -1. */
function find(t: usize, key: usize): i32 {
  const keyAt = <usize>load<u32>(t + T_KEY);
  const next = <usize>load<u32>(t + T_LINKS) + L_HASH_NEXT;
  let i = load<i32>(bucketOf(t, load<u32>(key + K_HASH))) - 1;
  while (i >= 0) {
    const e = entry(t, i);
    if (sameKey(e + keyAt, key)) return i;
    i = load<i32>(e + next);
  }
  return -1;
}

/** A new entry of table `t`, zeroed but for a copy of the key block at `key`: in its hash chain and the youngest. */
function insert(t: usize, key: usize): i32 {
  let i = load<i32>(t + T_FREE);
  if (i >= 0) store<i32>(t + T_FREE, load<i32>(linksOf(t, i) + L_NEXT));
  else {
    i = load<i32>(t + T_UNUSED);
    store<i32>(t + T_UNUSED, i + 1);
  }
  const e = entry(t, i);
  memory.fill(e, 0, <usize>load<u32>(t + T_SIZE));
  memory.copy(e + <usize>load<u32>(t + T_KEY), key, KEY_SIZE);
  const l = e + <usize>load<u32>(t + T_LINKS);
  const bucket = bucketOf(t, load<u32>(key + K_HASH));
  store<i32>(l + L_HASH_NEXT, load<i32>(bucket) - 1);
  store<i32>(bucket, i + 1);
  const newest = load<i32>(t + T_NEWEST);
  store<i32>(l + L_PREV, newest);
  store<i32>(l + L_NEXT, -1);
  if (newest >= 0) store<i32>(linksOf(t, newest) + L_NEXT, i);
  else store<i32>(t + T_OLDEST, i);
  store<i32>(t + T_NEWEST, i);
  store<i32>(t + T_COUNT, load<i32>(t + T_COUNT) + 1);
  return i;
}

/** Entry `i` leaves its hash chain and the creation order; what it holds stays until `release`. */
function unlink(t: usize, i: i32): void {
  const l = linksOf(t, i);
  const hashNext = load<i32>(l + L_HASH_NEXT);
  const bucket = bucketOf(t, load<u32>(entry(t, i) + <usize>load<u32>(t + T_KEY) + K_HASH));
  let j = load<i32>(bucket) - 1;
  if (j == i) store<i32>(bucket, hashNext + 1);
  else {
    while (j >= 0) {
      const lj = linksOf(t, j);
      const next = load<i32>(lj + L_HASH_NEXT);
      if (next == i) {
        store<i32>(lj + L_HASH_NEXT, hashNext);
        break;
      }
      j = next;
    }
  }
  const prev = load<i32>(l + L_PREV);
  const next = load<i32>(l + L_NEXT);
  if (prev >= 0) store<i32>(linksOf(t, prev) + L_NEXT, next);
  else store<i32>(t + T_OLDEST, next);
  if (next >= 0) store<i32>(linksOf(t, next) + L_PREV, prev);
  else store<i32>(t + T_NEWEST, prev);
  store<i32>(t + T_COUNT, load<i32>(t + T_COUNT) - 1);
}

/** An unlinked entry is free again. */
function release(t: usize, i: i32): void {
  store<i32>(linksOf(t, i) + L_NEXT, load<i32>(t + T_FREE));
  store<i32>(t + T_FREE, i);
}

/** Entry `i` leaves the table at once. */
function remove(t: usize, i: i32): void {
  unlink(t, i);
  release(t, i);
}

function reserve(end: usize): bool {
  const pages = <i32>((end + 0xffff) >> 16);
  const have = memory.size();
  return pages <= have || memory.grow(pages - have) >= 0;
}

/** Where the compiler's static data may start (its --memoryBase must not be lower). */
export function fixedEnd(): usize {
  return TABLES;
}

export function inputStart(): usize {
  return input;
}

export function inputLength(): usize {
  return inputSize;
}

/** An input area of at least `size` bytes (two read slots, each with room for the largest block left over); false when out of memory. */
export function reserveInput(size: usize): bool {
  if (size <= inputSize) return true;
  if (!reserve(input + size)) return false;
  inputSize = size;
  return true;
}

/** Double the input area (a pcapng block larger than it); false at the limit or out of memory. */
export function growInput(): bool {
  if (inputSize >= MAX_INPUT || !reserve(input + inputSize * 2)) return false;
  inputSize *= 2;
  return true;
}

export function flowsTracked(): i32 {
  return load<i32>(FLOWS + T_COUNT);
}

export function slotBase(): usize {
  return slots;
}

// ---- framing ----

const PCAP_MAGIC_US: u32 = 0xa1b2c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b23c4d;
const PCAPNG_SHB: u32 = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER: u32 = 0x1a2b3c4d;
const MAX_RECORD: u32 = 256 * 1024;
const MAX_BLOCK: u32 = 16 * 1024 * 1024;

/** 0 unknown yet, 1 pcap, 2 pcapng. */
let format: i32 = 0;
let failed: bool = false;
let littleEndian: bool = true;
let nanoseconds: bool = false;
let pcapLinktype: i32 = 1;
let ifaceCount: i32 = 0;
let lastTsMs: f64 = 0;
let framedPackets: f64 = 0;
/** Packets go to the host as framed (`framed`), not through decoding and the flow table. */
let frameOnly: bool = false;

export function setFrameOnly(on: bool): void {
  frameOnly = on;
}

@inline function deliver(linktype: i32, tsMs: f64, p: usize, len: i32, wireLength: u32): void {
  framedPackets++;
  if (frameOnly) hostFramed(linktype, tsMs, <i32>p, len, wireLength);
  else handle(linktype, tsMs, p, len, wireLength);
}

/** Frame the capture bytes in [input + start, input + end). Returns the bytes used from `start` (the rest waits for more input), or -1 when the input is not a capture. */
export function frame(start: i32, end: i32): i32 {
  if (failed) return end - start;
  const begin = input + <usize>start;
  const stop = input + <usize>end;
  let at = begin;
  if (format == 0) {
    if (end - start < 4) return 0;
    const be = be32(begin);
    const le = le32(begin);
    if (be == PCAPNG_SHB) format = 2;
    else if (be == PCAP_MAGIC_US || le == PCAP_MAGIC_US || be == PCAP_MAGIC_NS || le == PCAP_MAGIC_NS) {
      if (end - start < 24) return 0;
      littleEndian = le == PCAP_MAGIC_US || le == PCAP_MAGIC_NS;
      nanoseconds = (littleEndian ? le : be) == PCAP_MAGIC_NS;
      // The FCS-present bits share the link-type field (upper bits); keep the type itself.
      pcapLinktype = <i32>(rd32(begin + 20, littleEndian) & 0x0fffffff);
      format = 1;
      at = begin + 24;
    } else {
      failed = true;
      return -1;
    }
  }
  return <i32>((format == 1 ? framePcap(at, stop) : framePcapng(at, stop)) - begin);
}

/** 0 no format seen yet, 1 pcap, 2 pcapng. */
export function captureFormat(): i32 {
  return format;
}

export function framingFailed(): bool {
  return failed;
}

export function packetsFramed(): f64 {
  return framedPackets;
}

function fail(reason: i32): void {
  failed = true;
  count(reason);
}

function framePcap(start: usize, stop: usize): usize {
  let at = start;
  const le = littleEndian;
  const fraction: f64 = nanoseconds ? 1e6 : 1e3;
  const linktype = pcapLinktype;
  while (at + 16 <= stop) {
    const sec = rd32(at, le);
    const sub = rd32(at + 4, le);
    const capLen = rd32(at + 8, le);
    const wireLen = rd32(at + 12, le);
    if (capLen > MAX_RECORD) {
      fail(R_BAD_RECORD_LENGTH);
      return stop;
    }
    if (at + 16 + <usize>capLen > stop) break;
    deliver(linktype, <f64>sec * 1000 + <f64>sub / fraction, at + 16, <i32>capLen, wireLen < capLen ? capLen : wireLen);
    at += 16 + <usize>capLen;
  }
  return at;
}

function framePcapng(start: usize, stop: usize): usize {
  let at = start;
  while (at + 12 <= stop) {
    // A section header resets the byte order; it is recognised in either order.
    const typeBe = be32(at);
    if (typeBe == PCAPNG_SHB) {
      if (le32(at + 8) == PCAPNG_BYTE_ORDER) littleEndian = true;
      else if (be32(at + 8) == PCAPNG_BYTE_ORDER) littleEndian = false;
      else {
        fail(R_BAD_SECTION_HEADER);
        return stop;
      }
      ifaceCount = 0;
    }
    const le = littleEndian;
    const type = le ? le32(at) : typeBe;
    const length = rd32(at + 4, le);
    if (length < 12 || length % 4 != 0 || length > MAX_BLOCK) {
      fail(R_BAD_BLOCK_LENGTH);
      return stop;
    }
    if (at + <usize>length > stop) break;
    const body = at + 8;
    const bodyEnd = at + <usize>length - 4;
    if (type == 1) interfaceBlock(body, bodyEnd);
    else if (type == 6) enhancedPacket(body, bodyEnd, false);
    else if (type == 3) simplePacket(body, bodyEnd);
    else if (type == 2) enhancedPacket(body, bodyEnd, true);
    at += <usize>length;
  }
  return at;
}

function interfaceBlock(body: usize, bodyEnd: usize): void {
  if (bodyEnd - body < 8) {
    count(R_BAD_INTERFACE_BLOCK);
    return;
  }
  const le = littleEndian;
  const linktype = rd16(body, le);
  let unitsPerMs: f64 = 1000; // default resolution: microseconds
  let offsetMs: f64 = 0;
  let opt = body + 8;
  while (opt + 4 <= bodyEnd) {
    const code = rd16(opt, le);
    const len = rd16(opt + 2, le);
    if (code == 0 || opt + 4 + <usize>len > bodyEnd) break;
    if (code == 9 && len >= 1) {
      const v = <u32>load<u8>(opt + 4);
      // MSB clear: 10^-v seconds; set: 2^-v seconds.
      const perSecond: f64 = v & 0x80 ? Math.pow(2, <f64>(v & 0x7f)) : Math.pow(10, <f64>v);
      unitsPerMs = perSecond / 1000;
    } else if (code == 14 && len >= 8) {
      const hi: f64 = le ? <f64>load<i32>(opt + 8) : <f64>(<i32>be32(opt + 4));
      const lo: f64 = le ? <f64>le32(opt + 4) : <f64>be32(opt + 8);
      offsetMs = (hi * 4294967296 + lo) * 1000;
    }
    opt += 4 + ((<usize>len + 3) & ~3);
  }
  if (ifaceCount >= MAX_IFACES) return;
  const p = IFACES + <usize>ifaceCount * IFACE_SIZE;
  store<i32>(p, <i32>linktype);
  store<f64>(p + 8, unitsPerMs);
  store<f64>(p + 16, offsetMs);
  ifaceCount++;
}

/** An enhanced packet block, or an obsolete packet block (16-bit interface id). */
function enhancedPacket(body: usize, bodyEnd: usize, obsolete: bool): void {
  if (bodyEnd - body < 20) {
    count(R_BAD_PACKET_BLOCK);
    return;
  }
  const le = littleEndian;
  const ifaceId = obsolete ? rd16(body, le) : rd32(body, le);
  const hi = rd32(body + 4, le);
  const lo = rd32(body + 8, le);
  const capLen = rd32(body + 12, le);
  const wireLen = rd32(body + 16, le);
  if (ifaceId >= <u32>ifaceCount) {
    count(R_UNKNOWN_INTERFACE);
    return;
  }
  if (body + 20 + <usize>capLen > bodyEnd) {
    count(R_BAD_PACKET_BLOCK);
    return;
  }
  const iface = IFACES + <usize>ifaceId * IFACE_SIZE;
  const ts = (<f64>hi * 4294967296 + <f64>lo) / load<f64>(iface + 8) + load<f64>(iface + 16);
  lastTsMs = ts;
  deliver(load<i32>(iface), ts, body + 20, <i32>capLen, wireLen < capLen ? capLen : wireLen);
}

function simplePacket(body: usize, bodyEnd: usize): void {
  if (ifaceCount == 0 || bodyEnd - body < 4) {
    count(ifaceCount == 0 ? R_UNKNOWN_INTERFACE : R_BAD_PACKET_BLOCK);
    return;
  }
  const wireLen = rd32(body, littleEndian);
  const room = <u32>(bodyEnd - body - 4);
  const capLen = wireLen < room ? wireLen : room;
  // A simple packet block carries no timestamp: the previous packet's time stands in.
  deliver(load<i32>(IFACES), lastTsMs, body + 4, <i32>capLen, wireLen);
}

// ---- decoding ----

const LINKTYPE_NULL = 0;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW_OPENBSD = 12;
const LINKTYPE_RAW_BSDOS = 14;
const LINKTYPE_RAW = 101;
const LINKTYPE_LOOP = 108;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_IPV6 = 229;
const LINKTYPE_LINUX_SLL2 = 276;

/** Decode the packet at [p, p + len) into VIEW; R_OK or the reason it is not decoded. */
export function decode(linktype: i32, p: usize, len: i32): i32 {
  const end = p + <usize>len;
  switch (linktype) {
    case LINKTYPE_ETHERNET: {
      if (p + 14 > end) return R_TRUNCATED_LINK;
      let type = be16(p + 12);
      let off = p + 14;
      // 802.1Q, 802.1ad (QinQ) and the older 0x9100 tag, stacked any number of times.
      while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
        if (off + 4 > end) return R_TRUNCATED_LINK;
        type = be16(off + 2);
        off += 4;
      }
      return ethertype(type, off, end);
    }
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_OPENBSD:
    case LINKTYPE_RAW_BSDOS: {
      if (p >= end) return R_TRUNCATED_IP;
      const version = <u32>load<u8>(p) >> 4;
      if (version == 4) return ipv4(p, end);
      if (version == 6) return ipv6(p, end);
      return R_BAD_IP_VERSION;
    }
    case LINKTYPE_IPV4:
      return ipv4(p, end);
    case LINKTYPE_IPV6:
      return ipv6(p, end);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (p + 4 > end) return R_TRUNCATED_LINK;
      // DLT_NULL stores the address family in the capturing host's byte order.
      const le = le32(p);
      const family = linktype == LINKTYPE_LOOP || le > 0xffff ? be32(p) : le;
      if (family == 2) return ipv4(p + 4, end);
      // AF_INET6 differs by OS: 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
      if (family == 10 || family == 24 || family == 28 || family == 30) return ipv6(p + 4, end);
      return R_NON_IP;
    }
    case LINKTYPE_LINUX_SLL:
      if (p + 16 > end) return R_TRUNCATED_LINK;
      return ethertype(be16(p + 14), p + 16, end);
    case LINKTYPE_LINUX_SLL2:
      if (p + 20 > end) return R_TRUNCATED_LINK;
      return ethertype(be16(p), p + 20, end);
    default:
      return R_UNSUPPORTED_LINKTYPE;
  }
}

function ethertype(type: u32, off: usize, end: usize): i32 {
  if (type == 0x0800) return ipv4(off, end);
  if (type == 0x86dd) return ipv6(off, end);
  return R_NON_IP;
}

function ipv4(off: usize, frameEnd: usize): i32 {
  if (off + 20 > frameEnd) return R_TRUNCATED_IP;
  const vihl = <u32>load<u8>(off);
  if (vihl >> 4 != 4) return R_BAD_IP_VERSION;
  const headerLen = (vihl & 15) * 4;
  if (headerLen < 20) return R_BAD_IP_HEADER;
  if (off + <usize>headerLen > frameEnd) return R_TRUNCATED_IP;
  let totalLen = be16(off + 2);
  const captured = <u32>(frameEnd - off);
  // Segmentation offload on the capturing host leaves 0 in the length field.
  if (totalLen == 0) totalLen = captured;
  if (totalLen < headerLen) return R_BAD_IP_HEADER;
  store<i32>(VIEW + V_IP_VERSION, 4);
  store<i32>(VIEW + V_IP_LENGTH, <i32>totalLen);
  store<u32>(VIEW + V_SRC_V4, be32(off + 12));
  store<u32>(VIEW + V_DST_V4, be32(off + 16));
  store<i32>(VIEW + V_PROTO, <i32>load<u8>(off + 9));
  const fragField = be16(off + 6);
  const fragOffset = fragField & 0x1fff;
  store<i32>(VIEW + V_FRAGMENT, fragOffset != 0 || (fragField & 0x2000) != 0 ? 1 : 0);
  store<i32>(VIEW + V_LATER_FRAGMENT, fragOffset != 0 ? 1 : 0);
  // Ethernet padding after the IP packet is not payload.
  const end = off + <usize>(totalLen < captured ? totalLen : captured);
  return transport(off + <usize>headerLen, end);
}

function ipv6(off: usize, frameEnd: usize): i32 {
  if (off + 40 > frameEnd) return R_TRUNCATED_IP;
  if (<u32>load<u8>(off) >> 4 != 6) return R_BAD_IP_VERSION;
  const payloadLen = be16(off + 4);
  const captured = <u32>(frameEnd - off - 40);
  // Jumbograms (length 0) and offloaded segments: the captured length stands in.
  const carried = payloadLen == 0 ? captured : payloadLen;
  store<i32>(VIEW + V_IP_VERSION, 6);
  store<i32>(VIEW + V_IP_LENGTH, <i32>(40 + carried));
  store<i32>(VIEW + V_SRC_OFF, <i32>(off + 8));
  store<i32>(VIEW + V_DST_OFF, <i32>(off + 24));
  store<i32>(VIEW + V_FRAGMENT, 0);
  store<i32>(VIEW + V_LATER_FRAGMENT, 0);
  const end = off + 40 + <usize>(carried < captured ? carried : captured);
  let next = <u32>load<u8>(off + 6);
  let pos = off + 40;
  for (let hops = 0; hops < 16; hops++) {
    if (next == 0 || next == 43 || next == 60 || next == 135 || next == 139 || next == 140) {
      // hop-by-hop, routing, destination options, mobility, HIP, shim6
      if (pos + 8 > end) return R_TRUNCATED_IPV6_EXT;
      next = <u32>load<u8>(pos);
      pos += (<usize>load<u8>(pos + 1) + 1) * 8;
      continue;
    }
    if (next == 51) {
      // authentication header: length in 4-byte units minus 2
      if (pos + 8 > end) return R_TRUNCATED_IPV6_EXT;
      next = <u32>load<u8>(pos);
      pos += (<usize>load<u8>(pos + 1) + 2) * 4;
      continue;
    }
    if (next == 44) {
      if (pos + 8 > end) return R_TRUNCATED_IPV6_EXT;
      next = <u32>load<u8>(pos);
      const fragField = be16(pos + 2);
      store<i32>(VIEW + V_FRAGMENT, 1);
      store<i32>(VIEW + V_LATER_FRAGMENT, fragField >> 3 != 0 ? 1 : 0);
      pos += 8;
      continue;
    }
    break;
  }
  if (pos > end) return R_TRUNCATED_IPV6_EXT;
  store<i32>(VIEW + V_PROTO, <i32>next);
  return transport(pos, end);
}

function transport(off: usize, end: usize): i32 {
  store<i32>(VIEW + V_SRC_PORT, 0);
  store<i32>(VIEW + V_DST_PORT, 0);
  store<i32>(VIEW + V_TCP_FLAGS, 0);
  store<i32>(VIEW + V_PAYLOAD_OFF, <i32>off);
  store<i32>(VIEW + V_PAYLOAD_LEN, 0);
  if (load<i32>(VIEW + V_LATER_FRAGMENT) != 0) return R_OK;
  const proto = load<i32>(VIEW + V_PROTO);
  if (proto == 6) {
    if (off + 20 > end) return R_TRUNCATED_TCP;
    const dataOffset = (<usize>load<u8>(off + 12) >> 4) * 4;
    if (dataOffset < 20) return R_BAD_TCP_HEADER;
    store<i32>(VIEW + V_SRC_PORT, <i32>be16(off));
    store<i32>(VIEW + V_DST_PORT, <i32>be16(off + 2));
    store<u32>(VIEW + V_TCP_SEQ, be32(off + 4));
    store<i32>(VIEW + V_TCP_FLAGS, <i32>load<u8>(off + 13));
    if (off + dataOffset > end) {
      // Options cut by the snap length: the ports and flags still count.
      store<i32>(VIEW + V_PAYLOAD_OFF, <i32>end);
      return R_OK;
    }
    store<i32>(VIEW + V_PAYLOAD_OFF, <i32>(off + dataOffset));
    store<i32>(VIEW + V_PAYLOAD_LEN, <i32>(end - off - dataOffset));
    return R_OK;
  }
  if (proto == 17 || proto == 136) {
    if (off + 8 > end) return R_TRUNCATED_UDP;
    store<i32>(VIEW + V_SRC_PORT, <i32>be16(off));
    store<i32>(VIEW + V_DST_PORT, <i32>be16(off + 2));
    const udpLen = be16(off + 4);
    store<i32>(VIEW + V_PAYLOAD_OFF, <i32>(off + 8));
    const avail = <u32>(end - off - 8);
    store<i32>(VIEW + V_PAYLOAD_LEN, <i32>(udpLen >= 8 && udpLen - 8 < avail ? udpLen - 8 : avail));
    return R_OK;
  }
  // Other protocols (ICMP, GRE, ESP...) are flows without ports.
  store<i32>(VIEW + V_PAYLOAD_LEN, <i32>(end - off));
  return R_OK;
}

// ---- flows ----

/** One captured packet at [p, p + len), framed by the host (tests, other framings). */
export function packet(linktype: i32, tsMs: f64, p: usize, len: i32, wireLength: u32): void {
  handle(linktype, tsMs, p, len, wireLength);
}

function handle(linktype: i32, tsMs: f64, p: usize, len: i32, wireLength: u32): void {
  addF(S_PACKETS, 1);
  addF(S_BYTES, <f64>wireLength);
  let now = load<f64>(VIEW + V_NOW);
  if (tsMs > now) {
    now = tsMs;
    store<f64>(VIEW + V_NOW, now);
  }
  if (now >= nextSweep) sweep();
  const result = decode(linktype, p, len);
  if (result != R_OK) {
    count(result);
    return;
  }
  if (load<i32>(VIEW + V_FRAGMENT) != 0) {
    addF(S_FRAGMENTS, 1);
    // Later fragments carry no ports: counted, not reassembled, not attributed.
    if (load<i32>(VIEW + V_LATER_FRAGMENT) != 0) {
      count(R_IP_FRAGMENT);
      return;
    }
  }
  store<f64>(VIEW + V_TS, tsMs);
  account(tsMs);
}

/**
 * The flow slot of the packet before, or -1: a transfer's packets come in runs (87 % of the
 * benchmark capture's packets follow one of their flow's), and a packet's key is compared with
 * this slot's before it is hashed and looked up.
 */
let lastSlot: i32 = -1;

/** The key block of the packet in VIEW, at KEY, without its hash (see `account`). */
function packetKey(): void {
  const proto = <u32>load<i32>(VIEW + V_PROTO);
  const sp = <u32>load<i32>(VIEW + V_SRC_PORT);
  const dp = <u32>load<i32>(VIEW + V_DST_PORT);
  memory.fill(KEY, 0, KEY_SIZE);
  store<u8>(KEY + K_PROTO, <u8>proto);
  let srcLow: bool;
  if (load<i32>(VIEW + V_IP_VERSION) == 4) {
    const s = load<u32>(VIEW + V_SRC_V4);
    const d = load<u32>(VIEW + V_DST_V4);
    srcLow = s < d || (s == d && sp <= dp);
    keySrcLow = s == d && sp == dp ? 2 : srcLow ? 1 : 0;
    store<u32>(KEY + K_LOW, srcLow ? s : d);
    store<u32>(KEY + K_HIGH, srcLow ? d : s);
  } else {
    store<u8>(KEY + K_V6, 1);
    const so = <usize>load<i32>(VIEW + V_SRC_OFF);
    const dOff = <usize>load<i32>(VIEW + V_DST_OFF);
    let order: i32 = 0;
    for (let i: usize = 0; i < 16; i++) {
      const diff = <i32>load<u8>(so + i) - <i32>load<u8>(dOff + i);
      if (diff != 0) {
        order = diff;
        break;
      }
    }
    if (order == 0) order = <i32>sp - <i32>dp;
    srcLow = order <= 0;
    keySrcLow = order == 0 ? 2 : srcLow ? 1 : 0;
    memory.copy(KEY + K_LOW, srcLow ? so : dOff, 16);
    memory.copy(KEY + K_HIGH, srcLow ? dOff : so, 16);
  }
  store<u16>(KEY + K_LOW_PORT, <u16>(srcLow ? sp : dp));
  store<u16>(KEY + K_HIGH_PORT, <u16>(srcLow ? dp : sp));
}

function keyHash(key: usize): u32 {
  let h: u32 = (<u32>load<u8>(key + K_PROTO) | (<u32>load<u8>(key + K_V6) << 8)) * 0x9e3779b1;
  for (let i: usize = 0; i < 32; i += 8) {
    const w = load<u64>(key + K_LOW + i);
    h = (h ^ <u32>w) * 0x85ebca6b;
    h = (h ^ (h >> 13) ^ <u32>(w >> 32)) * 0xc2b2ae35;
  }
  h = (h ^ ((<u32>load<u16>(key + K_LOW_PORT) << 16) | <u32>load<u16>(key + K_HIGH_PORT)) ^ (h >> 15)) * 0x27d4eb2f;
  return h ^ (h >> 16);
}

function account(tsMs: f64): void {
  packetKey();
  let slot: i32;
  if (lastSlot >= 0 && sameFlowKey(slotAt(lastSlot) + F_KEY, KEY)) {
    slot = lastSlot;
    store<u32>(KEY + K_HASH, load<u32>(slotAt(slot) + F_KEY + K_HASH));
  } else {
    store<u32>(KEY + K_HASH, keyHash(KEY));
    slot = find(FLOWS, KEY);
  }
  const flags = <u32>load<i32>(VIEW + V_TCP_FLAGS);
  const proto = <u32>load<i32>(VIEW + V_PROTO);
  if (slot >= 0 && load<u8>(slotAt(slot) + F_CLOSED) != 0 && proto == 6 && (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
    // A new connection reusing the ports of a closed one.
    end(slot, <i32>load<u8>(slotAt(slot) + F_CLOSE_REASON));
    slot = -1;
  }
  let p: usize;
  if (slot < 0) {
    if (proto == 6 && load<i32>(VIEW + V_PAYLOAD_LEN) == 0 && (flags & TCP_SYN) == 0 && closedGet(tsMs)) {
      count(R_AFTER_CLOSE);
      return;
    }
    slot = open(tsMs);
    p = slotAt(slot);
  } else {
    p = slotAt(slot);
    if (load<u8>(p + F_RESTART) == 0 && tsMs - load<f64>(p + F_TS) >= activeTimeoutMs) emit(slot, END_ACTIVE, false);
  }
  lastSlot = slot;
  if (load<u8>(p + F_RESTART) != 0) {
    store<u8>(p + F_RESTART, 0);
    store<f64>(p + F_TS, tsMs);
  }
  if (tsMs > load<f64>(p + F_TS_END)) store<f64>(p + F_TS_END, tsMs);
  let outbound: bool;
  if (load<i32>(VIEW + V_IP_VERSION) == 4) outbound = load<u32>(VIEW + V_SRC_V4) == load<u32>(p + F_INITIATOR_V4) && <u32>load<i32>(VIEW + V_SRC_PORT) == <u32>load<u16>(p + F_SRC_PORT);
  else outbound = keySrcLow == 2 || (keySrcLow == 1) == (load<u8>(p + F_INITIATOR_LOW) != 0);
  const ipLength = <f64>load<i32>(VIEW + V_IP_LENGTH);
  if (outbound) {
    addF(p + F_BYTES_OUT, ipLength);
    store<u32>(p + F_PACKETS_OUT, load<u32>(p + F_PACKETS_OUT) + 1);
  } else {
    addF(p + F_BYTES_IN, ipLength);
    store<u32>(p + F_PACKETS_IN, load<u32>(p + F_PACKETS_IN) + 1);
  }
  if (proto == 6 && flags != 0) {
    if (flags & TCP_RST) {
      store<u8>(p + F_CLOSED, 1);
      store<u8>(p + F_CLOSE_REASON, END_RST);
    } else if (flags & TCP_FIN) {
      store<u8>(p + (outbound ? F_FIN_OUT : F_FIN_IN), 1);
      if (load<u8>(p + F_FIN_OUT) != 0 && load<u8>(p + F_FIN_IN) != 0 && load<u8>(p + F_CLOSED) == 0) {
        store<u8>(p + F_CLOSED, 1);
        store<u8>(p + F_CLOSE_REASON, END_FIN);
      }
    }
  }
  if (load<u8>(p + F_INSPECT_DONE) == 0 && load<i32>(VIEW + V_PAYLOAD_LEN) > 0) inspect(slot, p, outbound);
}

/** A flow for the packet's key (the oldest ends first when the table is full). */
function open(tsMs: f64): i32 {
  const oldest = load<i32>(FLOWS + T_OLDEST);
  if (load<i32>(FLOWS + T_COUNT) >= maxFlows && oldest >= 0) {
    // Oldest-created flow goes first: bounded memory wins over completeness.
    addF(S_EVICTED, 1);
    end(oldest, END_EVICTED);
  }
  const slot = insert(FLOWS, KEY);
  const p = slotAt(slot);
  store<f64>(p + F_TS, tsMs);
  store<f64>(p + F_TS_END, tsMs);
  // The initiator sent the first packet, except that a SYN-ACK comes from the responder.
  const flags = <u32>load<i32>(VIEW + V_TCP_FLAGS);
  const reversed = load<i32>(VIEW + V_PROTO) == 6 && (flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
  store<i32>(VIEW + V_REVERSED, reversed ? 1 : 0);
  store<u16>(p + F_SRC_PORT, <u16>load<i32>(VIEW + (reversed ? V_DST_PORT : V_SRC_PORT)));
  if (load<i32>(VIEW + V_IP_VERSION) == 4) store<u32>(p + F_INITIATOR_V4, load<u32>(VIEW + (reversed ? V_DST_V4 : V_SRC_V4)));
  else {
    const srcLow = keySrcLow != 0;
    store<u8>(p + F_INITIATOR_LOW, (reversed ? !srcLow : srcLow) ? 1 : 0);
  }
  hostOpened(slot);
  return slot;
}

/** The flow leaves the table: its record is due (`reason`), its slot is freed. */
function end(slot: i32, reason: i32): void {
  const p = slotAt(slot);
  unlink(FLOWS, slot);
  if (load<u8>(p + F_CLOSED) != 0) closedSet(p + F_KEY);
  emit(slot, reason, true);
  release(FLOWS, slot);
  if (slot == lastSlot) lastSlot = -1;
}

/** The flow's record (through the host), then fresh counters: the next packet starts the next record. */
function emit(slot: i32, reason: i32, final: bool): void {
  const p = slotAt(slot);
  if (load<u32>(p + F_PACKETS_OUT) + load<u32>(p + F_PACKETS_IN) == 0) {
    if (final) hostEnded(slot, -1, 1);
    return;
  }
  hostEnded(slot, reason, final ? 1 : 0);
  store<f64>(p + F_BYTES_OUT, 0);
  store<f64>(p + F_BYTES_IN, 0);
  store<u32>(p + F_PACKETS_OUT, 0);
  store<u32>(p + F_PACKETS_IN, 0);
  store<u8>(p + F_RESTART, 1);
}

/** What the host identified the flow as (APP_* bits). */
export function setApp(slot: i32, bits: u8): void {
  store<u8>(slotAt(slot) + F_APP, bits);
}

/** The host's stream head of one direction: HEAD_EMPTY, HEAD_HELD or HEAD_DONE. */
export function setHead(slot: i32, outbound: bool, state: u8): void {
  const at = slotAt(slot) + (outbound ? F_HEAD_OUT : F_HEAD_IN);
  store<u8>(at, (load<u8>(at) & ~HEAD_STATE) | state);
}

// ---- screening for identification ----
// The host sees only the payload packets its matchers may take; the rest is decided here, as the
// host's matchers would decide it, with no call.

/** A payload packet of a flow under inspection. */
function inspect(slot: i32, p: usize, outbound: bool): void {
  const proto = load<i32>(VIEW + V_PROTO);
  if (proto != 6 && proto != 17) {
    store<u8>(p + F_INSPECT_DONE, 1);
    return;
  }
  const seen = <i32>load<u16>(p + F_INSPECTED);
  store<u16>(p + F_INSPECTED, <u16>(seen + 1));
  if (seen + 1 > maxInspect) {
    store<u8>(p + F_INSPECT_DONE, 1);
    if ((load<u8>(p + F_HEAD_OUT) & HEAD_STATE) == HEAD_HELD || (load<u8>(p + F_HEAD_IN) & HEAD_STATE) == HEAD_HELD) hostReleased(slot);
    return;
  }
  if (proto == 6) inspectTcp(slot, p, outbound);
  else inspectDatagram(slot, p, outbound);
}

function inspectTcp(slot: i32, p: usize, outbound: bool): void {
  const headAt = p + (outbound ? F_HEAD_OUT : F_HEAD_IN);
  const head = load<u8>(headAt);
  const payload = <usize>load<i32>(VIEW + V_PAYLOAD_OFF);
  const length = load<i32>(VIEW + V_PAYLOAD_LEN);
  if ((head & HEAD_STATE) != HEAD_DONE) {
    const seqAt = p + (outbound ? F_SEQ_OUT : F_SEQ_IN);
    const seq = load<u32>(VIEW + V_TCP_SEQ);
    // Retransmissions and out-of-order segments do not extend the head.
    if ((head & HEAD_SEQ) == 0 || seq == load<u32>(seqAt)) {
      store<u32>(seqAt, seq + <u32>length);
      store<u8>(headAt, head | HEAD_SEQ);
      if ((head & HEAD_STATE) == HEAD_EMPTY && firstSegment(slot, p, outbound, payload, length)) store<u8>(headAt, HEAD_SEQ | HEAD_DONE);
      else hostInspect(slot, outbound ? 1 : 0, INSPECT_HEAD);
    }
  } else if ((load<u8>(p + F_APP) & APP_BITTORRENT) == 0) {
    // A handshake later in a stream whose start was not captured (a resumed connection).
    const at = handshakeIn(payload, length);
    if (at >= 0) hostHandshake(slot, at, <i32>payload + length);
  }
  // Unidentified streams stay under watch: a handshake may follow an MSE negotiation in clear.
  if ((load<u8>(p + F_HEAD_OUT) & HEAD_STATE) == HEAD_DONE && (load<u8>(p + F_HEAD_IN) & HEAD_STATE) == HEAD_DONE && load<u8>(p + F_APP) != 0) {
    store<u8>(p + F_INSPECT_DONE, 1);
  }
}

/**
 * The first segment of a stream head, decided here when the host's matchers would decide it at
 * once: a complete handshake or ClientHello (told to the host), or bytes no matcher takes (from
 * the initiator, not the start of an HTTP request or a TLS record; from the responder, not on a
 * tracker's flow). False when a matcher may wait for more bytes: the host looks.
 */
function firstSegment(slot: i32, p: usize, outbound: bool, payload: usize, length: i32): bool {
  const c = <u32>load<u8>(payload);
  if (c == 0x13) {
    if (length < HANDSHAKE_FULL || !isHandshakeAt(payload)) return false;
    hostHandshake(slot, <i32>payload, <i32>payload + length);
    return true;
  }
  if (!outbound) return (load<u8>(p + F_APP) & APP_VIA_TRACKER) == 0;
  // Four bytes decide whether an HTTP request starts here.
  if (length < 4) return false;
  if (c == 0x16) return clientHello(slot, payload, length);
  // G(ET) P(OST, UT, ATCH) H(EAD) D(ELETE) O(PTIONS) C(ONNECT).
  return c != 0x47 && c != 0x50 && c != 0x48 && c != 0x44 && c != 0x4f && c != 0x43;
}

/** Bytes of a stream head the host collects at most (names.ts MAX_HEAD). */
const MAX_HEAD: i32 = 4096;
/** pstrlen, pstr, reserved, info_hash, peer_id. */
const HANDSHAKE_FULL: i32 = 68;

/**
 * A TLS ClientHello at the start of a stream head, as the host's matchTlsClientHello reads it:
 * false while the hello may need more bytes; true once decided, its server name (or none) told
 * to the host when it is one.
 */
function clientHello(slot: i32, head: usize, length: i32): bool {
  if (length < 6) return false;
  if (load<u8>(head + 1) != 3 || load<u8>(head + 2) > 4 || load<u8>(head + 5) != 1) return true;
  if (length < 9) return false;
  const helloLength = <i32>((<u32>load<u8>(head + 6) << 16) | be16(head + 7));
  const need = 9 + helloLength;
  if (length < need && length < MAX_HEAD) return false;
  const end = min(length, need);
  let p: i32 = 9 + 2 + 32; // version, random
  if (p + 1 > end) return true;
  p += 1 + <i32>load<u8>(head + <usize>p); // session id
  if (p + 2 > end) return true;
  p += 2 + <i32>be16(head + <usize>p); // cipher suites
  if (p + 1 > end) return true;
  p += 1 + <i32>load<u8>(head + <usize>p); // compression methods
  if (p + 2 > end) {
    hostClientHello(slot, 0, 0);
    return true;
  }
  const extEnd = min(end, p + 2 + <i32>be16(head + <usize>p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = be16(head + <usize>p);
    const len = <i32>be16(head + <usize>p + 2);
    p += 4;
    if (type == 0 && p + 5 <= extEnd) {
      // server_name list: list length, then entries of (type, length, name).
      let q = p + 2;
      const listEnd = min(extEnd, p + 2 + <i32>be16(head + <usize>p));
      while (q + 3 <= listEnd) {
        const nameType = load<u8>(head + <usize>q);
        const nameLength = <i32>be16(head + <usize>q + 1);
        if (nameType == 0 && q + 3 + nameLength <= listEnd) {
          hostClientHello(slot, <i32>(head + <usize>q + 3), nameLength);
          return true;
        }
        q += 3 + nameLength;
      }
    }
    p += len;
  }
  hostClientHello(slot, 0, 0);
  return true;
}

/** Where "\x13BitTorrent protocol" first starts in the payload, or -1: 16 bytes at a time for its first byte. */
function handshakeIn(payload: usize, length: i32): i32 {
  if (length < 20) return -1;
  const last = payload + <usize>length - 20;
  const first = i8x16.splat(0x13);
  let q = payload;
  for (; q + 16 <= last + 1; q += 16) {
    let hits = i8x16.bitmask(i8x16.eq(v128.load(q), first));
    while (hits != 0) {
      const at = q + <usize>ctz(hits);
      if (isHandshakeAt(at)) return <i32>at;
      hits &= hits - 1;
    }
  }
  for (; q <= last; q++) if (isHandshakeAt(q)) return <i32>q;
  return -1;
}

@inline function isHandshakeAt(q: usize): bool {
  return load<u8>(q) == 0x13 && load<u64>(q + 1) == 0x6572726f54746942 && load<u64>(q + 9) == 0x6f746f727020746e && load<u16>(q + 17) == 0x6f63 && load<u8>(q + 19) == 0x6c;
}

/**
 * A datagram, in the host's order of matchers: one KRPC, LSD or a UDP tracker exchange may take
 * goes to the host whole; else a uTP header goes as read here; else a DNS message goes whole.
 */
function inspectDatagram(slot: i32, p: usize, outbound: bool): void {
  const payload = <usize>load<i32>(VIEW + V_PAYLOAD_OFF);
  const length = load<i32>(VIEW + V_PAYLOAD_LEN);
  if (trackerOrDhtMayMatch(p, outbound, payload, length)) {
    hostInspect(slot, outbound ? 1 : 0, INSPECT_DATAGRAM);
    return;
  }
  const dataAt = utpData(payload, length);
  if (dataAt >= 0) {
    hostUtp(slot, outbound ? 1 : 0, <i32>(load<u8>(payload) >> 4), <i32>be16(payload + 2), <i32>payload + dataAt);
    return;
  }
  const sp = load<i32>(VIEW + V_SRC_PORT);
  const dp = load<i32>(VIEW + V_DST_PORT);
  if (sp == 53 || dp == 53 || sp == 5353 || dp == 5353 || sp == 5355 || dp == 5355) hostInspect(slot, outbound ? 1 : 0, INSPECT_DATAGRAM);
}

/** A datagram KRPC, LSD or a UDP tracker exchange (the host's first matchers) may take. */
function trackerOrDhtMayMatch(p: usize, outbound: bool, payload: usize, length: i32): bool {
  const c = <u32>load<u8>(payload);
  // KRPC's bencoded dictionary, LSD's "BT-SEARCH".
  if (c == 0x64 || c == 0x42) return true;
  if (outbound) {
    if (length >= 16) {
      const action = be32(payload + 8);
      if (action == 0 && be32(payload) == 0x417 && be32(payload + 4) == 0x27101980) return true;
      if (action == 1 && length >= 98) return true;
      if (action == 2 && length >= 36 && (length - 16) % 20 == 0) return true;
    }
    return false;
  }
  return (load<u8>(p + F_APP) & APP_VIA_UDP_TRACKER) != 0;
}

/** A well-formed uTP (BEP 29) header, as the host's parseUtp takes it: where its data starts, or -1. */
function utpData(payload: usize, length: i32): i32 {
  if (length < 20) return -1;
  const b0 = <u32>load<u8>(payload);
  const type = b0 >> 4;
  if ((b0 & 15) != 1 || type > 4) return -1;
  let ext = <u32>load<u8>(payload + 1);
  let pos: i32 = 20;
  for (let i = 0; ext != 0; i++) {
    if (ext > 4 || i > 4 || pos + 2 > length) return -1;
    const len = <i32>load<u8>(payload + <usize>pos + 1);
    // Selective ACK bitmasks are a multiple of 4 bytes and at least 4.
    if (ext == 1 && (len < 4 || len % 4 != 0)) return -1;
    ext = <u32>load<u8>(payload + <usize>pos);
    pos += 2 + len;
    if (pos > length) return -1;
  }
  const dataLen = length - pos;
  // SYN and STATE never carry data; DATA always does.
  if ((type == 4 || type == 2) && dataLen != 0) return -1;
  return type == 0 && dataLen == 0 ? -1 : pos;
}

/** Advance packet time without a packet (a quiet live capture). */
export function advance(tsMs: f64): void {
  let now = load<f64>(VIEW + V_NOW);
  if (tsMs > now) {
    now = tsMs;
    store<f64>(VIEW + V_NOW, now);
  }
  if (now >= nextSweep) sweep();
}

function sweep(): void {
  const now = load<f64>(VIEW + V_NOW);
  nextSweep = now + sweepEveryMs;
  let i = load<i32>(FLOWS + T_OLDEST);
  while (i >= 0) {
    const p = slotAt(i);
    const next = load<i32>(p + F_LINKS + L_NEXT);
    if (load<u8>(p + F_CLOSED) != 0 && now - load<f64>(p + F_TS_END) >= closeLingerMs) end(i, <i32>load<u8>(p + F_CLOSE_REASON));
    else if (now - load<f64>(p + F_TS_END) >= idleTimeoutMs) end(i, END_IDLE);
    else if (load<u8>(p + F_RESTART) == 0 && now - load<f64>(p + F_TS) >= activeTimeoutMs) emit(i, END_ACTIVE, false);
    i = next;
  }
}

/** End of input: every flow still tracked becomes a record, oldest first. */
export function finish(): void {
  for (let i = load<i32>(FLOWS + T_OLDEST); i >= 0; i = load<i32>(FLOWS + T_OLDEST)) end(i, END_END);
}

// ---- closed connections ----

/** The packet's connection was closed within the idle timeout (an expired entry is dropped). */
function closedGet(tsMs: f64): bool {
  const i = find(CLOSEDS, KEY);
  if (i < 0) return false;
  if (load<f64>(entry(CLOSEDS, i) + C_EXPIRES) < tsMs) {
    remove(CLOSEDS, i);
    return false;
  }
  return true;
}

/** Remember the connection with the key block at `key` as closed, as the newest entry; the oldest goes when full. */
function closedSet(key: usize): void {
  if (closedMax <= 0) return;
  const found = find(CLOSEDS, key);
  if (found >= 0) remove(CLOSEDS, found);
  const i = insert(CLOSEDS, key);
  store<f64>(entry(CLOSEDS, i) + C_EXPIRES, load<f64>(VIEW + V_NOW) + idleTimeoutMs);
  if (load<i32>(CLOSEDS + T_COUNT) > closedMax) remove(CLOSEDS, load<i32>(CLOSEDS + T_OLDEST));
}
