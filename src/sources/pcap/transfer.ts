// Flow records between the replay worker and the main thread, packed: numbers in one
// Float64Array (copied, not transferred: see postBatch), every text (app evidence included) as an
// id into a string table both threads keep, so each distinct address, name or hash crosses once
// and the main thread's records share one string object per value. Cloning the records object by
// object costs both threads several times more.
import type { AppEvidence, FlowRecord, SourceRef } from '../../record.js';

const NUMBERS = 9;
const HAS_SERVER_NAME = 1;
const HAS_APP = 2;
const HAS_URL = 4;
const HAS_METHOD = 8;
const HAS_USER_AGENT = 16;

/** Strings both tables hold at most; past it the worker starts a fresh table (and says so). */
export const MAX_TABLE_STRINGS = 1 << 16;

export interface PackedRecords {
  count: number;
  numbers: Float64Array<ArrayBuffer>;
  /** Per record: src, dst, flags, then the present optional fields as string ids (app: shape, values). */
  refs: Int32Array<ArrayBuffer>;
  /** Strings new to the table, ids from `firstId` on. */
  strings: string[];
  firstId: number;
  /** Key lists of app evidence new to the table, ids from `firstShape` on. */
  shapes: string[][];
  firstShape: number;
  /** The tables start afresh with this batch. */
  reset: boolean;
  source: SourceRef;
}

/**
 * The keys of a flow tracker record, in its order: the first 12 with a value, the text and evidence
 * ones with a value or undefined, enrichment's (the last three) undefined. A record may leave out
 * any of the optional keys; unpacked records carry them all, as the tracker's do.
 */
const KEYS = ['ts', 'tsEnd', 'src', 'srcPort', 'dst', 'dstPort', 'proto', 'bytesOut', 'bytesIn', 'packetsOut', 'packetsIn', 'source', 'serverName', 'app', 'url', 'method', 'userAgent', 'host', 'remote', 'approval'];
const REQUIRED_KEYS = 12;

/** One evidence value by key: named reads, not one generic keyed read per field. */
function appValue(app: AppEvidence, key: string): unknown {
  switch (key) {
    case 'name':
      return app.name;
    case 'via':
      return app.via;
    case 'infoHash':
      return app.infoHash;
    case 'infoHashes':
      return app.infoHashes;
    case 'peerId':
      return app.peerId;
    case 'client':
      return app.client;
    case 'tracker':
      return app.tracker;
    default:
      return (app as unknown as Record<string, unknown>)[key];
  }
}

/** `strings` plus one for a text value, unchanged for undefined, -1 for anything else (or after -1). */
function withText(value: unknown, strings: number): number {
  if (strings < 0 || value === undefined) return strings;
  return typeof value === 'string' ? strings + 1 : -1;
}

/**
 * How many strings the record carries when unpacking gives it back (the known keys, in that order,
 * the required ones defined, enrichment's undefined; app evidence of strings and an infoHashes
 * list), or -1.
 */
function packableStrings(r: FlowRecord, source: SourceRef, checkKeys: boolean): number {
  if (r.source.type !== source.type || r.source.id !== source.id) return -1;
  if (checkKeys) {
    let next = 0;
    for (const key in r) {
      // Required keys match one by one; an optional key may skip the optional keys before it.
      while (next >= REQUIRED_KEYS && next < KEYS.length && KEYS[next] !== key) next++;
      if (KEYS[next] !== key) return -1;
      next++;
    }
    if (next < REQUIRED_KEYS) return -1;
  }
  if (r.host !== undefined || r.remote !== undefined || r.approval !== undefined) return -1;
  if (r.ts === undefined || r.tsEnd === undefined || r.srcPort === undefined || r.dstPort === undefined || r.proto === undefined) return -1;
  if (r.bytesOut === undefined || r.bytesIn === undefined || r.packetsOut === undefined || r.packetsIn === undefined) return -1;
  if (typeof r.src !== 'string' || typeof r.dst !== 'string') return -1;
  let strings = withText(r.serverName, 2);
  if (strings < 0) return -1;
  const app = r.app;
  if (app !== undefined) {
    for (const key in app) {
      const value = appValue(app, key);
      if (typeof value === 'string') strings++;
      else if (key === 'infoHashes' && Array.isArray(value) && value.every((v) => typeof v === 'string')) strings += value.length;
      else return -1;
    }
  }
  return withText(r.url, withText(r.method, withText(r.userAgent, strings)));
}

interface ShapeNode {
  id: number;
  next: Map<string, ShapeNode>;
}

/** The worker's side: string and evidence-shape ids, kept across batches. */
export class RecordPacker {
  private readonly ids = new Map<string, number>();
  private shapeRoot: ShapeNode = { id: -1, next: new Map() };
  private shapeCount = 0;
  private refs = new Int32Array(4096);
  private refCount = 0;
  private newStrings: string[] = [];
  private newShapes: string[][] = [];

  constructor(private readonly maxStrings = MAX_TABLE_STRINGS) {}

  /**
   * Pack a batch of records; undefined when one of them does not fit the packing. `trackerShape`:
   * the records are the flow tracker's own, which one object literal makes with every key in
   * order (the replay worker's), so their keys go unchecked; their values are checked still.
   */
  pack(records: readonly FlowRecord[], trackerShape = false): PackedRecords | undefined {
    const first = records[0];
    if (first === undefined) return undefined;
    const source = first.source;
    let strings = 0;
    for (const r of records) {
      const n = packableStrings(r, source, !trackerShape);
      if (n < 0) return undefined;
      strings += n;
    }
    // Every string of the batch gets an id: start afresh when the table could overflow.
    const reset = this.ids.size + strings > this.maxStrings;
    if (reset) {
      this.ids.clear();
      this.shapeRoot = { id: -1, next: new Map() };
      this.shapeCount = 0;
    }
    const firstId = this.ids.size;
    const firstShape = this.shapeCount;
    this.newStrings = [];
    this.newShapes = [];
    this.refCount = 0;
    const count = records.length;
    const numbers = new Float64Array(count * NUMBERS);
    for (let i = 0; i < count; i++) {
      const r = records[i]!;
      const at = i * NUMBERS;
      numbers[at] = r.ts;
      numbers[at + 1] = r.tsEnd;
      numbers[at + 2] = r.srcPort;
      numbers[at + 3] = r.dstPort;
      numbers[at + 4] = r.proto;
      numbers[at + 5] = r.bytesOut;
      numbers[at + 6] = r.bytesIn;
      numbers[at + 7] = r.packetsOut;
      numbers[at + 8] = r.packetsIn;
      this.packText(r);
    }
    const refs = this.refs.slice(0, this.refCount);
    return { count, numbers, refs, strings: this.newStrings, firstId, shapes: this.newShapes, firstShape, reset, source: { type: source.type, id: source.id } };
  }

  private packText(r: FlowRecord): void {
    this.ref(this.stringId(r.src));
    this.ref(this.stringId(r.dst));
    const flagsAt = this.refCount;
    this.ref(0);
    let flags = 0;
    if (r.serverName !== undefined) {
      flags |= HAS_SERVER_NAME;
      this.ref(this.stringId(r.serverName));
    }
    if (r.app !== undefined) {
      flags |= HAS_APP;
      this.packApp(r.app);
    }
    if (r.url !== undefined) {
      flags |= HAS_URL;
      this.ref(this.stringId(r.url));
    }
    if (r.method !== undefined) {
      flags |= HAS_METHOD;
      this.ref(this.stringId(r.method));
    }
    if (r.userAgent !== undefined) {
      flags |= HAS_USER_AGENT;
      this.ref(this.stringId(r.userAgent));
    }
    this.refs[flagsAt] = flags;
  }

  /** Shape id, then each value: a string id, or for infoHashes a count and that many ids. */
  private packApp(app: AppEvidence): void {
    let node = this.shapeRoot;
    const shapeAt = this.refCount;
    this.ref(0);
    for (const key in app) {
      let child = node.next.get(key);
      if (child === undefined) {
        child = { id: -1, next: new Map() };
        node.next.set(key, child);
      }
      node = child;
      const value = appValue(app, key);
      if (typeof value === 'string') this.ref(this.stringId(value));
      else {
        // infoHashes, checked by packableStrings
        const hashes = value as string[];
        this.ref(hashes.length);
        for (const v of hashes) this.ref(this.stringId(v));
      }
    }
    if (node.id < 0) {
      node.id = this.shapeCount++;
      this.newShapes.push(Object.keys(app));
    }
    this.refs[shapeAt] = node.id;
  }

  private stringId(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(s, id);
      this.newStrings.push(s);
    }
    return id;
  }

  private ref(value: number): void {
    if (this.refCount === this.refs.length) {
      const grown = new Int32Array(this.refs.length * 2);
      grown.set(this.refs);
      this.refs = grown;
    }
    this.refs[this.refCount++] = value;
  }
}

/** The main thread's side: the same tables, filled from what each batch brings. */
export class RecordUnpacker {
  private strings: string[] = [];
  private shapes: string[][] = [];

  /** The records the packer packed: equal field by field, with every key of the flow tracker's shape. */
  unpack(packed: PackedRecords): FlowRecord[] {
    if (packed.reset) {
      this.strings = [];
      this.shapes = [];
    }
    if (packed.firstId !== this.strings.length || packed.firstShape !== this.shapes.length) throw new Error('flow record tables out of step between threads');
    for (const s of packed.strings) this.strings.push(s);
    for (const s of packed.shapes) this.shapes.push(s);
    const { count, numbers, refs } = packed;
    const strings = this.strings;
    const records: FlowRecord[] = new Array<FlowRecord>(count);
    // One source reference per batch, shared as the flow tracker shares one.
    const source: SourceRef = { type: packed.source.type, id: packed.source.id };
    let at = 0;
    for (let i = 0; i < count; i++) {
      const n = i * NUMBERS;
      // The flow tracker's record shape: every key, undefined when absent.
      const record: FlowRecord = {
        ts: numbers[n]!,
        tsEnd: numbers[n + 1]!,
        src: strings[refs[at]!]!,
        srcPort: numbers[n + 2]!,
        dst: strings[refs[at + 1]!]!,
        dstPort: numbers[n + 3]!,
        proto: numbers[n + 4]!,
        bytesOut: numbers[n + 5]!,
        bytesIn: numbers[n + 6]!,
        packetsOut: numbers[n + 7]!,
        packetsIn: numbers[n + 8]!,
        source,
        serverName: undefined,
        app: undefined,
        url: undefined,
        method: undefined,
        userAgent: undefined,
        host: undefined,
        remote: undefined,
        approval: undefined,
      };
      const flags = refs[at + 2]!;
      at += 3;
      if (flags & HAS_SERVER_NAME) record.serverName = strings[refs[at++]!]!;
      if (flags & HAS_APP) {
        const app: Record<string, unknown> = {};
        for (const key of this.shapes[refs[at++]!]!) {
          if (key === 'infoHashes') {
            const hashes: string[] = new Array<string>(refs[at++]!);
            for (let h = 0; h < hashes.length; h++) hashes[h] = strings[refs[at++]!]!;
            app[key] = hashes;
          } else app[key] = strings[refs[at++]!]!;
        }
        record.app = app as unknown as AppEvidence;
      }
      if (flags & HAS_URL) record.url = strings[refs[at++]!]!;
      if (flags & HAS_METHOD) record.method = strings[refs[at++]!]!;
      if (flags & HAS_USER_AGENT) record.userAgent = strings[refs[at++]!]!;
      records[i] = record;
    }
    return records;
  }
}
