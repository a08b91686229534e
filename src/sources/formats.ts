import { ReadStream, createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';
import type { SquidFormatConfig } from '../decode/squid/config.js';
import { EgressdError } from '../errors.js';
import { pcapWorkerWanted, type SpawnedPcapWorker } from './pcap/spawn.js';
import type { PcapWorkerReplay } from './pcap/threaded.js';
import { STANDARD_INPUT, isInputDescriptor, type FormatName, type InputDescriptor, type ReplayContext } from './types.js';

export const FORMAT_NAMES: readonly FormatName[] = ['pcap', 'netflow', 'squid', 'zeek', 'vpc'];

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a]);

/** Guess a format from the first bytes of an input; undefined when nothing matches. */
export function sniffFormat(head: Buffer): FormatName | undefined {
  if (head.length >= 4 && PCAP_MAGICS.has(head.readUInt32BE(0))) return 'pcap';
  const text = head.toString('latin1');
  const firstLine = (text.split('\n').find((l) => l.trim() !== '') ?? '').replace(/\r$/, '');
  if (/^#(separator|set_separator|empty_field|unset_field|path|fields|types|open)\b/.test(firstLine)) return 'zeek';
  if (firstLine.startsWith('{') && /"id\.orig_h"/.test(firstLine)) return 'zeek';
  // VPC: a header naming srcaddr, or a v2 line `2 <account> eni-...`.
  if (/(^|\s)(srcaddr|pkt[-_]srcaddr)(\s|$)/.test(firstLine) && /(^|\s)(version|dstaddr|start)(\s|$)/.test(firstLine)) return 'vpc';
  if (/^\d+ \S+ (eni-|-)\S* \S+ \S+ /.test(firstLine)) return 'vpc';
  // Squid native: `1718000000.123    42 10.0.0.1 TCP_MISS/200 ...`
  if (/^\d{9,10}\.\d{3}\s+-?\d+ \S+ [A-Z_]+\/\d{3} /.test(firstLine)) return 'squid';
  // Common / combined: `10.0.0.1 - user [11/Jun/2026:09:00:00 +0000] "GET ...`
  if (/^\S+ \S+ \S+ \[\d{2}\/\w{3}\/\d{4}:/.test(firstLine)) return 'squid';
  return undefined;
}

async function readHead(path: string, bytes = 4096): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export interface ReplayOptions {
  /** Registry for format-specific metrics (packets, templates...). */
  registry?: Registry;
  /** Forced format; otherwise sniffed from the content. */
  format?: FormatName;
  /** Squid logformat for proxy logs. */
  squid?: SquidFormatConfig;
  /** Read capture files on a worker thread (pcapWorkerWanted), when the built worker is there. */
  pcapWorker?: boolean;
}

/** Detect the format of a file (not stdin: standard input needs `--format`). */
export async function detectFileFormat(path: string): Promise<FormatName> {
  let head: Buffer;
  try {
    head = await readHead(path);
  } catch (err) {
    throw new EgressdError('IO', `${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  const format = sniffFormat(head);
  if (!format) {
    throw new EgressdError('USAGE', `${path}: cannot tell the format (not pcap/pcapng, Zeek, VPC or Squid); use --format ${FORMAT_NAMES.join('|')}`);
  }
  return format;
}

/** Read one whole input (see `openInput`) through the decoder of its format, pushing records to `ctx.out`. */
export async function replayInput(opened: Readable | InputDescriptor, format: FormatName, ctx: ReplayContext, options: ReplayOptions = {}): Promise<void> {
  if (format === 'pcap') {
    const path = options.pcapWorker && !isInputDescriptor(opened) ? unreadFilePath(opened) : undefined;
    if (path !== undefined) {
      const { pcapWorkerAvailable, PcapWorkerReplay } = await import('./pcap/threaded.js');
      if (pcapWorkerAvailable()) {
        (opened as Readable).destroy();
        return replayInWorker(new PcapWorkerReplay(path, ctx.sourceId), ctx, options);
      }
    }
    const [{ replayPcap }, { pcapSourceSchema }] = await Promise.all([import('./pcap/index.js'), import('./pcap/config.js')]);
    return replayPcap(opened, ctx, pcapSourceSchema.parse({ type: 'pcap' }), { registry: options.registry });
  }
  // The line readers take standard input as a stream.
  const input = isInputDescriptor(opened) ? process.stdin : opened;
  // Only the decoder of the input's format is loaded.
  switch (format) {
    case 'netflow': {
      const [{ replayNetflowPcap }, { netflowSourceSchema }] = await Promise.all([import('./netflow/index.js'), import('./netflow/config.js')]);
      return replayNetflowPcap(input, ctx, netflowSourceSchema.parse({ type: 'netflow' }), options.registry);
    }
    case 'zeek': {
      const [{ replayLines }, { createZeekDecoder }] = await Promise.all([import('./file/index.js'), import('../decode/zeek/index.js')]);
      return replayLines(input, createZeekDecoder(ctx.sourceId), ctx);
    }
    case 'vpc': {
      const [{ replayLines }, { createVpcDecoder }] = await Promise.all([import('./file/index.js'), import('../decode/vpc/index.js')]);
      return replayLines(input, createVpcDecoder(ctx.sourceId), ctx);
    }
    case 'squid': {
      const [{ replayLines }, { createSquidDecoder }, { squidFormatSchema }] = await Promise.all([
        import('./file/index.js'),
        import('../decode/squid/index.js'),
        import('../decode/squid/config.js'),
      ]);
      return replayLines(input, createSquidDecoder(ctx.sourceId, options.squid ?? squidFormatSchema.parse({})), ctx, { format: 'squid' });
    }
  }
}

/** Take the records of a capture replay running on a worker thread (see `startPcapReplay`). */
export async function replayInWorker(replay: PcapWorkerReplay, ctx: ReplayContext, options: Pick<ReplayOptions, 'registry'> = {}): Promise<void> {
  const { pcapMetrics } = await import('./pcap/metrics.js');
  return replay.run(ctx, options.registry ? pcapMetrics(options.registry) : undefined);
}

export { pcapWorkerWanted };

/**
 * Start replaying a capture file on a worker thread now, to be taken later by `replayInWorker`;
 * undefined when the worker is not wanted (`pcapWorkerWanted`) or not available (running from
 * the TypeScript sources). `spawned`, a worker the launcher started early, is used when it reads
 * this very file, and stopped otherwise.
 */
export async function startPcapReplay(path: string, spawned?: SpawnedPcapWorker): Promise<PcapWorkerReplay | undefined> {
  const sourceId = inputSourceId(path);
  const early = spawned !== undefined && spawned.path === path && spawned.sourceId === sourceId ? spawned : undefined;
  let replay: PcapWorkerReplay | undefined;
  if (path !== '-' && pcapWorkerWanted()) {
    const { pcapWorkerAvailable, PcapWorkerReplay } = await import('./pcap/threaded.js');
    if (pcapWorkerAvailable()) replay = new PcapWorkerReplay(path, sourceId, early);
  }
  // The launcher's worker goes on in this replay, or stops.
  if (replay === undefined || early === undefined) spawned?.discard();
  return replay;
}

/** Records' `source.id` for a replayed input: the file name, or `stdin`. */
export function inputSourceId(path: string): string {
  return path === '-' ? 'stdin' : basename(path);
}

/** The path of a file stream nothing has read from yet (the worker opens the file itself). */
function unreadFilePath(input: Readable): string | undefined {
  if (!(input instanceof ReadStream) || input.bytesRead !== 0 || input.readableFlowing !== null || typeof input.path !== 'string') return undefined;
  const start = (input as ReadStream & { start?: number }).start;
  return start === undefined || start === 0 ? input.path : undefined;
}

/** A replay's input: a file stream, or standard input (for a capture, its descriptor: see `InputDescriptor`). */
export function openInput(path: string, format: FormatName): Readable | InputDescriptor {
  if (path !== '-') return createReadStream(path, { highWaterMark: 1 << 20 });
  return format === 'pcap' ? STANDARD_INPUT : process.stdin;
}
