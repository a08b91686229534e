// Flow records between the replay worker and the main thread, packed: numbers in one transferred
// Float64Array, text (app evidence included) in one string cut by lengths. Cloning the records
// object by object costs both threads several times more.
import type { AppEvidence, FlowRecord, SourceRef } from '../../record.js';

const NUMBERS = 9;
const HAS_SERVER_NAME = 1;
const HAS_URL = 2;
const HAS_METHOD = 4;
const HAS_USER_AGENT = 8;

export interface PackedRecords {
  count: number;
  numbers: Float64Array<ArrayBuffer>;
  /** Per record: which optional text fields follow src and dst. */
  optional: Uint8Array<ArrayBuffer>;
  text: string;
  /** Length of each text field, in order. */
  lengths: Uint32Array<ArrayBuffer>;
  /** Per record: index in `appShapes` of its app evidence's keys, -1 without app evidence. */
  appShape: Int16Array<ArrayBuffer>;
  /** Key lists of app evidence, in the order the objects had them. */
  appShapes: string[][];
  source: SourceRef;
}

/** The fields the flow tracker emits, in its order: the first 12 always, the others when known. */
const KEY_RANK = new Map(['ts', 'tsEnd', 'src', 'srcPort', 'dst', 'dstPort', 'proto', 'bytesOut', 'bytesIn', 'packetsOut', 'packetsIn', 'source', 'serverName', 'app', 'url', 'method', 'userAgent'].map((k, i) => [k, i]));
const REQUIRED_KEYS = 12;

/** True when unpacking gives the record back exactly: the known fields, in that order, none undefined. */
function packable(r: FlowRecord, source: SourceRef): boolean {
  if (r.source.type !== source.type || r.source.id !== source.id) return false;
  let position = 0;
  let lastRank = -1;
  for (const key in r) {
    const rank = KEY_RANK.get(key);
    if (rank === undefined || rank <= lastRank || (position < REQUIRED_KEYS && rank !== position)) return false;
    if ((r as unknown as Record<string, unknown>)[key] === undefined) return false;
    lastRank = rank;
    position++;
  }
  return position >= REQUIRED_KEYS;
}

/** Pack a batch of flow tracker records; undefined when one of them does not fit the packing. */
export function packRecords(records: readonly FlowRecord[]): PackedRecords | undefined {
  const first = records[0];
  if (first === undefined) return undefined;
  const source = first.source;
  const count = records.length;
  const numbers = new Float64Array(count * NUMBERS);
  const optional = new Uint8Array(count);
  const lengths: number[] = [];
  const appShape = new Int16Array(count).fill(-1);
  const appShapes: string[][] = [];
  const shapeIndex = new Map<string, number>();
  let text = '';
  for (let i = 0; i < count; i++) {
    const r = records[i]!;
    if (!packable(r, source)) return undefined;
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
    text += r.src;
    text += r.dst;
    lengths.push(r.src.length, r.dst.length);
    let flags = 0;
    if (r.serverName !== undefined) {
      flags |= HAS_SERVER_NAME;
      text += r.serverName;
      lengths.push(r.serverName.length);
    }
    const app = r.app as Record<string, unknown> | undefined;
    if (app !== undefined) {
      const keys = Object.keys(app);
      const id = keys.join(',');
      let shape = shapeIndex.get(id);
      if (shape === undefined) {
        shape = appShapes.length;
        if (shape > 0x7fff) return undefined;
        appShapes.push(keys);
        shapeIndex.set(id, shape);
      }
      appShape[i] = shape;
      for (const key of keys) {
        const value = app[key];
        if (typeof value === 'string') {
          text += value;
          lengths.push(value.length);
        } else if (key === 'infoHashes' && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
          lengths.push(value.length);
          for (const v of value as string[]) {
            text += v;
            lengths.push(v.length);
          }
        } else return undefined;
      }
    }
    if (r.url !== undefined) {
      flags |= HAS_URL;
      text += r.url;
      lengths.push(r.url.length);
    }
    if (r.method !== undefined) {
      flags |= HAS_METHOD;
      text += r.method;
      lengths.push(r.method.length);
    }
    if (r.userAgent !== undefined) {
      flags |= HAS_USER_AGENT;
      text += r.userAgent;
      lengths.push(r.userAgent.length);
    }
    optional[i] = flags;
  }
  return { count, numbers, optional, text, lengths: Uint32Array.from(lengths), appShape, appShapes, source: { type: source.type, id: source.id } };
}

/** The records `packRecords` packed: equal field by field, in the same key order. */
export function unpackRecords(packed: PackedRecords): FlowRecord[] {
  const { count, numbers, optional, text, lengths, appShape, appShapes, source } = packed;
  const records: FlowRecord[] = new Array<FlowRecord>(count);
  // One source reference per batch, shared as the flow tracker shares one.
  const sourceRef: SourceRef = { type: source.type, id: source.id };
  let pos = 0;
  let field = 0;
  const next = (): string => {
    const end = pos + lengths[field++]!;
    const s = text.slice(pos, end);
    pos = end;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const at = i * NUMBERS;
    const src = next();
    const dst = next();
    const record: FlowRecord = {
      ts: numbers[at]!,
      tsEnd: numbers[at + 1]!,
      src,
      srcPort: numbers[at + 2]!,
      dst,
      dstPort: numbers[at + 3]!,
      proto: numbers[at + 4]!,
      bytesOut: numbers[at + 5]!,
      bytesIn: numbers[at + 6]!,
      packetsOut: numbers[at + 7]!,
      packetsIn: numbers[at + 8]!,
      source: sourceRef,
    };
    const flags = optional[i]!;
    if (flags & HAS_SERVER_NAME) record.serverName = next();
    const shape = appShape[i]!;
    if (shape >= 0) {
      const app: Record<string, unknown> = {};
      for (const key of appShapes[shape]!) {
        if (key === 'infoHashes') {
          const hashes: string[] = new Array<string>(lengths[field++]!);
          for (let h = 0; h < hashes.length; h++) hashes[h] = next();
          app[key] = hashes;
        } else app[key] = next();
      }
      record.app = app as unknown as AppEvidence;
    }
    if (flags & HAS_URL) record.url = next();
    if (flags & HAS_METHOD) record.method = next();
    if (flags & HAS_USER_AGENT) record.userAgent = next();
    records[i] = record;
  }
  return records;
}
