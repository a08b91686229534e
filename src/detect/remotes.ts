import { sourceKey, type SwarmMember } from '../incidents/swarm.js';
import { IPv4TextCache, parseIPv4 } from '../util/ip.js';
import { TYPED_ARRAY_OVERHEAD, hashString, mix32 } from './hll.js';

// Per-host tallies of the running medium window: bytes by remote (top remotes, heavy peers) and
// by source (shared-source swarms). Open addressing in typed arrays that are zeroed, not
// reallocated, when the window closes, and IPv4 remotes kept as numbers: an hour of remotes
// leaves no garbage for the collector. Source tallies start only once the host's window carries
// enough bytes for any source to matter: most hosts never need them.

// Remote slot fields, interleaved in one Float64Array.
/** IPv4 address + 1; 0 when the remote is named by text (IPv6, host name) in `texts`. */
const R_IPV4 = 0;
const R_BYTES_IN = 1;
const R_BYTES_OUT = 2;
/** 1 marks a used slot, 2 a used slot that counted as a heavy peer; 0 a free slot. */
const R_STATE = 3;
const R_WIDTH = 4;
const USED = 1;
const HEAVY = 2;

// Source slot fields: the source key as two independent 32-bit hashes, then its bytes.
const S_HASH_A = 0;
const S_HASH_B = 1;
const S_BYTES_IN = 2;
const S_WIDTH = 3;

const MIN_SLOTS = 8;
/** Text of IPv4 remotes for top lists, shared by every table: the same peers come back. */
const remoteText = new IPv4TextCache();
/** Capacity beyond which a window that used under an eighth of it gives memory back. */
const SHRINK_ABOVE = 64;

/** A source this host pulled enough from to join the swarm index. */
export interface SourceLink {
  key: string;
  member: SwarmMember;
}

/** Snapshot form: parallel arrays of the live remotes; source tallies are rebuilt from them. */
export interface RemoteTableJSON {
  peers: string[];
  names: (string | null)[];
  /** bytes in, bytes out, heavy (0/1) per remote. */
  bytes: number[];
  /** Whether source tallies had started. */
  sources: boolean;
  /** Sources linked to the swarm index: key and the slot's two hashes. */
  links: [string, number, number][];
}

export class RemoteTable {
  private remotes = new Float64Array(0);
  /** Text of remotes that are not IPv4 addresses; allocated on the first one. */
  private texts: (string | undefined)[] | null = null;
  /** Host names of remotes known by name; allocated on the first one. */
  private names: (string | undefined)[] | null = null;
  private remoteCount = 0;
  /** Null until source tallies start in this window. */
  private sources: Float64Array | null = null;
  private links: (SourceLink | undefined)[] | null = null;
  private sourceCount = 0;

  get size(): number {
    return this.remoteCount;
  }

  /**
   * Count bytes for remote `peer` (an address, or a host name when the address is unknown),
   * named `name` when known. Returns its slot, or -1 when it is new and the table already
   * holds `maxRemotes`.
   */
  add(peer: string, name: string | undefined, bytesIn: number, bytesOut: number, maxRemotes: number): number {
    const v4 = parseIPv4(peer);
    let slot = v4 >= 0 ? this.findV4(v4) : this.findText(peer);
    if (slot < 0) {
      if (this.remoteCount >= maxRemotes) return -1;
      if ((this.remoteCount + 1) * 4 > (this.remotes.length / R_WIDTH) * 3) this.growRemotes();
      slot = this.freeRemoteSlot(v4 >= 0 ? mix32(v4) : hashString(peer));
      const base = slot * R_WIDTH;
      this.remotes[base + R_STATE] = USED;
      if (v4 >= 0) this.remotes[base + R_IPV4] = v4 + 1;
      else this.textsOf()[slot] = peer;
      if (name !== undefined) this.namesOf()[slot] = name;
      this.remoteCount++;
    }
    const r = this.remotes;
    r[slot * R_WIDTH + R_BYTES_IN]! += bytesIn;
    r[slot * R_WIDTH + R_BYTES_OUT]! += bytesOut;
    return slot;
  }

  /** The remote's label (its name, else its address) as an IPv4 number, or -1. */
  labelV4(slot: number): number {
    const name = this.names?.[slot];
    return name === undefined ? this.remotes[slot * R_WIDTH + R_IPV4]! - 1 : parseIPv4(name);
  }

  remoteBytesIn(slot: number): number {
    return this.remotes[slot * R_WIDTH + R_BYTES_IN]!;
  }

  isHeavy(slot: number): boolean {
    return this.remotes[slot * R_WIDTH + R_STATE] === HEAVY;
  }

  markHeavy(slot: number): void {
    this.remotes[slot * R_WIDTH + R_STATE] = HEAVY;
  }

  get tracksSources(): boolean {
    return this.sources !== null;
  }

  /**
   * Count `bytesIn` just added to remote `slot` toward its source and return the source's slot.
   * The first call of a window tallies every remote so far, this one included.
   */
  countSource(slot: number, bytesIn: number): number {
    if (this.sources === null) {
      this.sources = new Float64Array(MIN_SLOTS * S_WIDTH);
      const r = this.remotes;
      for (let other = 0; other * R_WIDTH < r.length; other++) {
        if (r[other * R_WIDTH + R_STATE] === 0) continue;
        this.sources[this.sourceSlotOfRemote(other) * S_WIDTH + S_BYTES_IN]! += r[other * R_WIDTH + R_BYTES_IN]!;
      }
      return this.sourceSlotOfRemote(slot);
    }
    const source = this.sourceSlotOfRemote(slot);
    this.sources[source * S_WIDTH + S_BYTES_IN]! += bytesIn;
    return source;
  }

  sourceBytesIn(slot: number): number {
    return this.sources![slot * S_WIDTH + S_BYTES_IN]!;
  }

  linkOf(slot: number): SourceLink | undefined {
    return this.links?.[slot];
  }

  link(slot: number, link: SourceLink): void {
    this.links ??= new Array<SourceLink | undefined>(this.sources!.length / S_WIDTH).fill(undefined);
    this.links[slot] = link;
  }

  /**
   * Top `n` remotes by bytes both ways, ties by label, equal ones in slot order: selected, not
   * sorted, since every finding asks and a window can hold thousands of remotes.
   */
  top(n: number): { label: string; bytes: number }[] {
    const top: { label: string; bytes: number }[] = [];
    if (n <= 0) return top;
    const r = this.remotes;
    for (let slot = 0; slot * R_WIDTH < r.length; slot++) {
      const base = slot * R_WIDTH;
      if (r[base + R_STATE] === 0) continue;
      const bytes = r[base + R_BYTES_IN]! + r[base + R_BYTES_OUT]!;
      // Most remotes fall below a full list on bytes alone: no label needed for them.
      if (top.length >= n && bytes < top[n - 1]!.bytes) continue;
      const label = this.names?.[slot] ?? this.peerOf(slot);
      let at = top.length;
      while (at > 0 && (top[at - 1]!.bytes < bytes || (top[at - 1]!.bytes === bytes && label < top[at - 1]!.label))) at--;
      if (at >= n) continue;
      top.splice(at, 0, { label, bytes });
      if (top.length > n) top.pop();
    }
    return top;
  }

  /** Empty the table for the next window, keeping its memory unless it is mostly unused. */
  clear(): void {
    const remoteSlots = this.remotes.length / R_WIDTH;
    if (remoteSlots > SHRINK_ABOVE && this.remoteCount * 8 < remoteSlots) {
      this.remotes = new Float64Array(0);
      this.texts = this.names = null;
    } else {
      this.remotes.fill(0);
      this.texts?.fill(undefined);
      this.names?.fill(undefined);
    }
    this.remoteCount = 0;
    this.sources = null;
    this.links = null;
    this.sourceCount = 0;
  }

  /** Approximate heap bytes held. */
  byteSize(): number {
    const pointers = (this.texts?.length ?? 0) + (this.names?.length ?? 0) + (this.links?.length ?? 0);
    const arrays = (this.remotes.length > 0 ? 1 : 0) + (this.sources ? 1 : 0);
    return 80 + arrays * TYPED_ARRAY_OVERHEAD + this.remotes.byteLength + (this.sources?.byteLength ?? 0) + pointers * 4;
  }

  toJSON(): RemoteTableJSON {
    const out: RemoteTableJSON = { peers: [], names: [], bytes: [], sources: this.sources !== null, links: [] };
    const r = this.remotes;
    for (let slot = 0; slot * R_WIDTH < r.length; slot++) {
      const base = slot * R_WIDTH;
      if (r[base + R_STATE] === 0) continue;
      out.peers.push(this.peerOf(slot));
      out.names.push(this.names?.[slot] ?? null);
      out.bytes.push(r[base + R_BYTES_IN]!, r[base + R_BYTES_OUT]!, r[base + R_STATE] === HEAVY ? 1 : 0);
    }
    const s = this.sources;
    this.links?.forEach((link, slot) => {
      if (link && s) out.links.push([link.key, s[slot * S_WIDTH + S_HASH_A]!, s[slot * S_WIDTH + S_HASH_B]!]);
    });
    return out;
  }

  /**
   * Rebuild from a snapshot. Swarm members are not part of host state: `member(key)` finds the
   * restored one for each linked source.
   */
  static fromJSON(json: RemoteTableJSON, member: (key: string) => SwarmMember | undefined): RemoteTable {
    const table = new RemoteTable();
    let last = -1;
    for (let i = 0; i < json.peers.length; i++) {
      const slot = table.add(json.peers[i]!, json.names[i] ?? undefined, json.bytes[i * 3]!, json.bytes[i * 3 + 1]!, Infinity);
      if (json.bytes[i * 3 + 2] === 1) table.markHeavy(slot);
      last = slot;
    }
    if (json.sources && last >= 0) table.countSource(last, 0);
    for (const [key, a, b] of json.links) {
      const restored = member(key);
      const slot = table.sources ? table.findSource(a, b) : -1;
      if (restored && slot >= 0) table.link(slot, { key, member: restored });
    }
    return table;
  }

  private peerOf(slot: number): string {
    const v4 = this.remotes[slot * R_WIDTH + R_IPV4]!;
    return v4 > 0 ? remoteText.text(v4 - 1) : this.texts![slot]!;
  }

  private textsOf(): (string | undefined)[] {
    return (this.texts ??= new Array<string | undefined>(this.remotes.length / R_WIDTH).fill(undefined));
  }

  private namesOf(): (string | undefined)[] {
    return (this.names ??= new Array<string | undefined>(this.remotes.length / R_WIDTH).fill(undefined));
  }

  private findV4(v4: number): number {
    const r = this.remotes;
    const slots = r.length / R_WIDTH;
    if (slots === 0) return -1;
    const mask = slots - 1;
    const key = v4 + 1;
    for (let i = mix32(v4) & mask; ; i = (i + 1) & mask) {
      if (r[i * R_WIDTH + R_STATE] === 0) return -1;
      if (r[i * R_WIDTH + R_IPV4] === key) return i;
    }
  }

  private findText(peer: string): number {
    const r = this.remotes;
    const slots = r.length / R_WIDTH;
    if (slots === 0 || this.texts === null) return -1;
    const mask = slots - 1;
    for (let i = hashString(peer) & mask; ; i = (i + 1) & mask) {
      if (r[i * R_WIDTH + R_STATE] === 0) return -1;
      if (this.texts[i] === peer) return i;
    }
  }

  private freeRemoteSlot(hash: number): number {
    const r = this.remotes;
    const mask = r.length / R_WIDTH - 1;
    let i = hash & mask;
    while (r[i * R_WIDTH + R_STATE] !== 0) i = (i + 1) & mask;
    return i;
  }

  private growRemotes(): void {
    const old = this.remotes;
    const oldTexts = this.texts;
    const oldNames = this.names;
    const slots = Math.max(MIN_SLOTS, (old.length / R_WIDTH) * 2);
    this.remotes = new Float64Array(slots * R_WIDTH);
    this.texts = oldTexts && new Array<string | undefined>(slots).fill(undefined);
    this.names = oldNames && new Array<string | undefined>(slots).fill(undefined);
    for (let slot = 0; slot * R_WIDTH < old.length; slot++) {
      const base = slot * R_WIDTH;
      if (old[base + R_STATE] === 0) continue;
      const v4 = old[base + R_IPV4]!;
      const text = oldTexts?.[slot];
      const to = this.freeRemoteSlot(v4 > 0 ? mix32(v4 - 1) : hashString(text!));
      this.remotes.set(old.subarray(base, base + R_WIDTH), to * R_WIDTH);
      if (this.texts) this.texts[to] = text;
      if (this.names) this.names[to] = oldNames![slot];
    }
  }

  /** The source slot of a remote, added when new. The label is its name, else its address. */
  private sourceSlotOfRemote(slot: number): number {
    const v4 = this.labelV4(slot);
    if (v4 >= 0) return this.sourceSlotOf(...v4SourceHashes(v4));
    return this.sourceSlotOf(...sourceHashes(sourceKey(this.names?.[slot] ?? this.texts![slot]!)));
  }

  private sourceSlotOf(a: number, b: number): number {
    const found = this.findSource(a, b);
    if (found >= 0) return found;
    if ((this.sourceCount + 1) * 4 > (this.sources!.length / S_WIDTH) * 3) this.growSources();
    const slot = this.freeSourceSlot(a);
    const s = this.sources!;
    s[slot * S_WIDTH + S_HASH_A] = a;
    s[slot * S_WIDTH + S_HASH_B] = b;
    this.sourceCount++;
    return slot;
  }

  private findSource(a: number, b: number): number {
    const s = this.sources!;
    const mask = s.length / S_WIDTH - 1;
    for (let i = a & mask; ; i = (i + 1) & mask) {
      const base = i * S_WIDTH;
      if (s[base + S_HASH_A] === 0) return -1;
      if (s[base + S_HASH_A] === a && s[base + S_HASH_B] === b) return i;
    }
  }

  private freeSourceSlot(a: number): number {
    const s = this.sources!;
    const mask = s.length / S_WIDTH - 1;
    let i = a & mask;
    while (s[i * S_WIDTH + S_HASH_A] !== 0) i = (i + 1) & mask;
    return i;
  }

  private growSources(): void {
    const old = this.sources!;
    const oldLinks = this.links;
    const slots = (old.length / S_WIDTH) * 2;
    this.sources = new Float64Array(slots * S_WIDTH);
    this.links = oldLinks && new Array<SourceLink | undefined>(slots).fill(undefined);
    for (let slot = 0; slot * S_WIDTH < old.length; slot++) {
      const a = old[slot * S_WIDTH + S_HASH_A]!;
      if (a === 0) continue;
      const to = this.freeSourceSlot(a);
      this.sources.set(old.subarray(slot * S_WIDTH, (slot + 1) * S_WIDTH), to * S_WIDTH);
      if (this.links) this.links[to] = oldLinks![slot];
    }
  }
}

/** A source key as two independent 32-bit hashes, both non-zero (0 marks a free slot). */
function sourceHashes(key: string): [number, number] {
  return [hashString(key) || 1, secondHash(key) || 1];
}

/** An IPv4 label stands for its /24 (sourceKey's rule): hashed from the number, no text. */
function v4SourceHashes(v4: number): [number, number] {
  const prefix = Math.floor(v4 / 256);
  return [mix32(prefix ^ 0x2545f491) || 1, mix32(Math.imul(prefix, 0x9e3779b1) ^ 0x68e31da4) || 1];
}

/** A 32-bit string hash independent of hashString (other multiplier and mixing). */
function secondHash(text: string): number {
  let h = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 13;
  }
  return mix32(h ^ 0x27d4eb2f);
}
