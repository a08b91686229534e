import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { HyperLogLog } from './hll.js';
import { RemoteTable, type RemoteTableJSON } from './remotes.js';
import type { SwarmMember } from '../incidents/swarm.js';
import { HostState, RING_WIDTH, type FeatureContext } from './features.js';

// The detection snapshot: `<stateDir>/detect/snapshot.json`, written to a temporary file,
// fsync'd, renamed over the old one and the directory fsync'd, so a crash leaves either the old
// or the new snapshot, never a torn one. JSON lines: a header (version, windows, indexes,
// incidents), then one line per host, so neither writing nor reading holds it all in memory.

/**
 * 2: the long-window ring and the per-minute download totals share one buffer.
 * 3: per-remote and per-source tallies in one table (`$remotes`); JSON lines, one host each.
 */
export const SNAPSHOT_VERSION = 3;

export function snapshotPath(stateDir: string): string {
  return join(stateDir, 'detect', 'snapshot.json');
}

/** Write `parts` (JSON text chunks) atomically to `path`. */
export function writeAtomically(path: string, parts: Iterable<string>): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    let buffered: string[] = [];
    let size = 0;
    for (const part of parts) {
      buffered.push(part);
      size += part.length;
      if (size >= 1 << 20) {
        writeSync(fd, buffered.join(''));
        buffered = [];
        size = 0;
      }
    }
    if (buffered.length > 0) writeSync(fd, buffered.join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** The snapshot's lines (the header, then one host each); nothing when there is no snapshot. */
export async function* readSnapshotLines(path: string): AsyncGenerator<string, void, undefined> {
  if (!existsSync(path)) return;
  const input = createReadStream(path, { encoding: 'utf8' });
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) if (line !== '') yield line;
  } finally {
    input.destroy();
  }
}

export function removeSnapshot(path: string): void {
  if (existsSync(path)) unlinkSync(path);
}

// Host state is plain numbers, sets, maps, typed arrays and sketches: encode those generically
// so a new field is snapshotted without extra code.

type Encoded =
  | number
  | string
  | boolean
  | null
  | { $n: string }
  | { $hll: ReturnType<HyperLogLog['toJSON']> }
  | { $remotes: RemoteTableJSON }
  | { $set: unknown[] }
  | { $map: [unknown, unknown][] }
  | { $i32: string }
  | { $f32: string }
  | { [k: string]: unknown };

function encode(value: unknown): Encoded | undefined {
  if (value === null) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $n: String(value) };
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof HyperLogLog) return { $hll: value.toJSON() };
  if (value instanceof RemoteTable) return { $remotes: value.toJSON() };
  if (value instanceof Set) return { $set: [...value].map(encode) };
  if (value instanceof Map) return { $map: [...value.entries()].map(([k, v]) => [encode(k), encode(v)]) };
  if (value instanceof Int32Array) return { $i32: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof Float32Array) return { $f32: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const e = encode(v);
      if (e !== undefined) out[k] = e;
    }
    return out;
  }
  return undefined;
}

type MemberLookup = (key: string) => SwarmMember | undefined;

function decode(value: unknown, member: MemberLookup): unknown {
  if (value === null || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  if ('$n' in v) return Number(v.$n);
  if ('$remotes' in v) return RemoteTable.fromJSON(v.$remotes as RemoteTableJSON, member);
  if ('$hll' in v) return HyperLogLog.fromJSON(v.$hll as ReturnType<HyperLogLog['toJSON']>);
  if ('$set' in v) return new Set((v.$set as unknown[]).map((x) => decode(x, member)));
  if ('$map' in v) return new Map((v.$map as [unknown, unknown][]).map(([k, x]) => [decode(k, member), decode(x, member)]));
  if ('$i32' in v) {
    const b = Buffer.from(v.$i32 as string, 'base64');
    return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  if ('$f32' in v) {
    const b = Buffer.from(v.$f32 as string, 'base64');
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = decode(x, member);
  return out;
}

export function encodeHost(state: HostState): string {
  return JSON.stringify(encode(state));
}

/**
 * Rebuild a host; undefined when the snapshot was taken with different windows. `member` finds
 * the restored swarm member of a source this host was linked to.
 */
export function decodeHost(json: unknown, ctx: FeatureContext, member: (key: string, host: string) => SwarmMember | undefined): HostState | undefined {
  const host = (json as { host?: unknown } | null)?.host;
  if (typeof host !== 'string') return undefined;
  const fields = decode(json, (key) => member(key, host)) as Record<string, unknown>;
  const state = new HostState(host, ctx);
  const ring = fields.ring as Float32Array | null;
  if (ring && ring.length !== ctx.slots * RING_WIDTH + ctx.shortsPerMedium) return undefined;
  Object.assign(state, fields);
  return state;
}
