// Replay of a capture through the flow tracker. No metrics library here: the worker thread of a
// file replay loads only this, and the caller hands in the metrics.
import { ReadStream, close, fstatSync, open, read } from 'node:fs';
import { createRequire } from 'node:module';
import type { OnReadOpts, SocketConstructorOpts } from 'node:net';
import type { Readable } from 'node:stream';
import { FlowTracker, TrackerStats, type FlowOptions } from '../../decode/packet/flows.js';
import { EgressdError, isEgressdError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import type { SourceMetrics } from '../../telemetry/metrics.js';
import { isInputDescriptor, type InputDescriptor, type ReplayContext } from '../types.js';
import type { PcapSourceConfig } from './config.js';
import type { PcapMetrics } from './metrics.js';

/** Pipes and terminals only: a file replay (and its worker thread) does not load them. */
const requireBuiltin = createRequire(import.meta.url);
const net = (): typeof import('node:net') => requireBuiltin('node:net') as typeof import('node:net');
const tty = (): typeof import('node:tty') => requireBuiltin('node:tty') as typeof import('node:tty');

export function flowOptions(config: PcapSourceConfig, sourceId: string): FlowOptions {
  return {
    sourceId,
    idleTimeoutMs: config.idleTimeout,
    activeTimeoutMs: config.activeTimeout,
    closeLingerMs: config.closeLinger,
    maxFlows: config.maxFlows,
    maxInspectPackets: config.maxInspectPackets,
    knownPeerTtlMs: config.knownPeers.ttl,
    knownPeerMax: config.knownPeers.max,
    dnsCacheTtlMs: config.dnsCache.ttl,
    dnsCacheMax: config.dnsCache.max,
    maxHeadBytes: config.maxInspectBytes,
  };
}

/** A capture file given by its path: read directly, without a stream (the worker loads no stream code). */
export interface CaptureFile {
  path: string;
}

function isCaptureFile(input: CaptureInput): input is CaptureFile {
  return typeof (input as CaptureFile).path === 'string' && typeof (input as Readable).read !== 'function';
}

export type CaptureInput = Readable | CaptureFile | InputDescriptor;

export interface CaptureReplayOptions {
  /** Packet-source metrics (packets, skips, flow table); shared counters go to ctx.metrics. */
  pcapMetrics?: PcapMetrics;
  /** Live input: advance flow time by the wall clock while no packet arrives (daemon only). */
  wallClockIdle?: boolean;
}

/**
 * Decode a whole pcap/pcapng capture (file or pipe) into flow records pushed to `ctx.out`.
 * Time is packet time; at the end of input every open flow becomes a record.
 */
export async function replayCapture(input: CaptureInput, ctx: ReplayContext, config: PcapSourceConfig, options: CaptureReplayOptions = {}): Promise<void> {
  const id = ctx.sourceId;
  const out: FlowRecord[] = [];
  const tracker = new FlowTracker(flowOptions(config, id), out);
  const pcap = options.pcapMetrics;
  const labels = { source: 'pcap', id };
  let newestTs = 0;

  let lastFlushWall = Date.now();
  const flushNow = async (): Promise<void> => {
    lastFlushWall = Date.now();
    flushStats(tracker.stats, { flows: tracker.trackedFlows, knownPeers: tracker.knownPeerCount, dnsNames: tracker.dnsCacheSize }, ctx.metrics, pcap, id);
    if (out.length === 0) return;
    const batch = out.splice(0, out.length);
    for (const r of batch) if (r.tsEnd > newestTs) newestTs = r.tsEnd;
    ctx.metrics.records.inc(labels, batch.length);
    ctx.metrics.lag.set(labels, Math.max(0, (Date.now() - newestTs) / 1000));
    for (let i = 0; i < batch.length; i += config.batchSize) await ctx.out.push(batch.slice(i, i + config.batchSize));
  };

  // One flush at a time: the quiet-link timer and the read loop both flush.
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => (flushing = flushing.then(flushNow));

  let quietTimer: NodeJS.Timeout | undefined;
  let lastPacketWall = Date.now();
  let lastPackets = 0;
  if (options.wallClockIdle) {
    // A live capture that goes quiet still has to end its idle flows.
    quietTimer = setInterval(() => {
      if (tracker.packetsFramed !== lastPackets) {
        lastPackets = tracker.packetsFramed;
        lastPacketWall = Date.now();
      } else if (Date.now() - lastPacketWall >= 1000) {
        tracker.advance(Date.now());
        if (out.length > 0) flush().catch((err: unknown) => ctx.logger.error({ err, id }, 'pushing flow records failed'));
      }
    }, 1000);
    quietTimer.unref();
  }

  try {
    // A pipe read as data comes stops for a flush: a batch is due, or a live capture's records and counters.
    const flushDue = (): boolean => out.length >= config.batchSize || (options.wallClockIdle === true && (out.length > 0 || Date.now() - lastFlushWall >= 1000));
    for await (const _ of framedChunks(input, tracker, ctx.signal, flushDue)) {
      if (ctx.signal?.aborted) break;
      if (tracker.stopped) {
        ctx.logger.warn({ id }, 'capture framing lost: the rest of the input is ignored');
        break;
      }
      if (out.length >= config.batchSize || options.wallClockIdle) await flush();
    }
    if (!tracker.stopped && !ctx.signal?.aborted) tracker.endOfInput();
  } catch (err) {
    if (ctx.signal?.aborted) {
      // Stopping: the input was closed under the reader; what was decoded is still flushed.
    } else if (isEgressdError(err)) {
      ctx.metrics.errors.inc({ ...labels, reason: (err as { reason?: string }).reason ?? err.code.toLowerCase() }, 1);
      if (tracker.captureFormat === undefined) throw err;
    } else throw new EgressdError('IO', `${id}: reading capture failed: ${(err as Error).message}`, { cause: err });
  } finally {
    if (quietTimer) clearInterval(quietTimer);
  }
  tracker.finish();
  await flush();
}

/**
 * Bytes per file read, straight into one of the packet core's two read slots. 2 MiB: with 1 MiB
 * the thread-pool round trips of a 1M-packet replay cost more than the reads save; larger slots
 * save nothing more and every fresh page costs.
 */
const FILE_CHUNK = 2 * 1024 * 1024;

/**
 * Feed the input to the tracker a chunk at a time (one step per chunk framed). A file, a file
 * stream not yet read from, or a descriptor (a pipe: one step per flush due) is read directly into
 * the tracker's packet core instead: no Buffer per chunk, no copy.
 */
function framedChunks(input: CaptureInput, tracker: FlowTracker, signal: AbortSignal | undefined, flushDue: () => boolean): AsyncIterable<void> {
  if (isCaptureFile(input)) return readFile(input.path, 0, tracker, signal);
  if (isInputDescriptor(input)) {
    const stat = fstatSync(input.fd);
    if (stat.isFIFO() || stat.isSocket()) return readPipe(input.fd, tracker, signal, flushDue);
    if (tty().isatty(input.fd)) throw new EgressdError('USAGE', 'standard input is a terminal, not a capture: pipe one in (tcpdump -w - | egressd …) or name a file');
    return readDescriptor(input.fd, null, tracker, signal);
  }
  if (input instanceof ReadStream && input.bytesRead === 0 && typeof input.path === 'string' && input.readableFlowing === null) {
    const path = input.path;
    const start = (input as ReadStream & { start?: number }).start ?? 0;
    input.destroy();
    return readFile(path, start, tracker, signal);
  }
  return feedStream(input, tracker);
}

async function* feedStream(input: Readable, tracker: FlowTracker): AsyncGenerator<void> {
  for await (const chunk of input as AsyncIterable<Buffer>) {
    tracker.feed(chunk);
    yield;
  }
}

// Callback fs wrapped by hand: node:fs/promises would load a dozen more modules at start.
function openForReading(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}

function readAt(fd: number, buffer: Buffer, length: number, position: number | null): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buffer, 0, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))));
}

/** A file read into the tracker's packet core, the event loop let in between chunks (abort, acks). */
async function* readFile(path: string, start: number, tracker: FlowTracker, signal: AbortSignal | undefined): AsyncGenerator<void> {
  const fd = await openForReading(path);
  try {
    yield* readDescriptor(fd, start, tracker, signal);
  } finally {
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  }
}

/**
 * Read `fd` from `position` (null: from its current offset) to its end, as `readFile`; the caller
 * closes it. Reads go through the thread pool into one of the core's two read slots while the
 * other is framed: the copy out of the page cache (a sixth of a replay) leaves this thread.
 */
async function* readDescriptor(fd: number, position: number | null, tracker: FlowTracker, signal: AbortSignal | undefined): AsyncGenerator<void> {
  tracker.useReadSlots(FILE_CHUNK);
  let k = 0;
  let reading = readAt(fd, tracker.slot(0), FILE_CHUNK, position);
  try {
    while (!signal?.aborted) {
      const bytesRead = await reading;
      if (bytesRead === 0) return;
      if (position !== null) position += bytesRead;
      tracker.takeSlot(k);
      reading = readAt(fd, tracker.slot(1 - k), FILE_CHUNK, position);
      tracker.frameSlot(k, bytesRead);
      yield;
      k = 1 - k;
    }
  } finally {
    // The descriptor is closed after this: no read may still be under way then.
    await reading.catch(() => 0);
  }
}

/**
 * A pipe (or socket) read as data comes, each read landing straight in the packet core's input
 * area; it stops while the caller flushes (`flushDue`, checked after each read) and at the end.
 */
async function* readPipe(fd: number, tracker: FlowTracker, signal: AbortSignal | undefined, flushDue: () => boolean): AsyncGenerator<void> {
  let failure: unknown;
  let ended = false;
  let paused = false;
  let wake: (() => void) | undefined;
  const wakeUp = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (err: unknown): void => {
    failure ??= err;
    wakeUp();
  };
  // Called from the read loop: nothing may throw out of these.
  let spare: Buffer | undefined;
  const onread: OnReadOpts = {
    buffer: () => {
      try {
        return tracker.room();
      } catch (err) {
        fail(err);
        return (spare ??= Buffer.alloc(64 * 1024));
      }
    },
    callback: (n) => {
      if (failure !== undefined) return false;
      try {
        tracker.filled(n);
      } catch (err) {
        fail(err);
        return false;
      }
      if (!tracker.stopped && !flushDue()) return true;
      paused = true;
      wakeUp();
      return false;
    },
  };
  // Node takes `onread` in the constructor as well (its types declare it for connect only).
  const socket = new (net().Socket)({ fd, readable: true, writable: false, onread } as SocketConstructorOpts);
  socket.on('end', () => {
    ended = true;
    wakeUp();
  });
  socket.on('error', fail);
  const onAbort = (): void => {
    ended = true;
    wakeUp();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    for (;;) {
      if (!ended && !paused && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
      if (failure !== undefined) throw failure;
      yield;
      if (ended) return;
      paused = false;
      socket.resume();
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    socket.destroy();
  }
}

/** Move the tracker's plain counters into the metrics and zero them (called per chunk, not per packet). */
export function flushStats(
  stats: TrackerStats,
  sizes: { flows: number; knownPeers: number; dnsNames: number },
  source: SourceMetrics,
  pcap: PcapMetrics | undefined,
  id: string,
): void {
  if (stats.bytes > 0) source.bytes.inc({ source: 'pcap', id }, stats.bytes);
  for (const [reason, n] of stats.errors) source.errors.inc({ source: 'pcap', id, reason }, n);
  stats.errors.clear();
  if (pcap !== undefined) {
    if (stats.packets > 0) pcap.packets.inc({ id }, stats.packets);
    if (stats.fragments > 0) pcap.fragments.inc({ id }, stats.fragments);
    if (stats.evicted > 0) pcap.evicted.inc({ id }, stats.evicted);
    for (const [reason, n] of stats.skipped) pcap.skipped.inc({ id, reason }, n);
    for (const [reason, n] of stats.ended) pcap.flowsEnded.inc({ id, reason }, n);
    pcap.trackedFlows.set({ id }, sizes.flows);
    pcap.knownPeers.set({ id }, sizes.knownPeers);
    pcap.dnsNames.set({ id }, sizes.dnsNames);
  }
  stats.packets = 0;
  stats.bytes = 0;
  stats.fragments = 0;
  stats.evicted = 0;
  stats.skipped.clear();
  stats.ended.clear();
}
