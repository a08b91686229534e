import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';
import { createSquidDecoder } from '../decode/squid/index.js';
import { squidFormatSchema, type SquidFormatConfig } from '../decode/squid/config.js';
import { createVpcDecoder } from '../decode/vpc/index.js';
import { createZeekDecoder } from '../decode/zeek/index.js';
import { EgressdError } from '../errors.js';
import { replayLines } from './file/index.js';
import { replayNetflowPcap } from './netflow/index.js';
import { netflowSourceSchema } from './netflow/config.js';
import { replayPcap } from './pcap/index.js';
import { pcapSourceSchema } from './pcap/config.js';
import type { FormatName, ReplayContext } from './types.js';

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

/** Read one whole input through the decoder of its format, pushing records to `ctx.out`. */
export async function replayInput(input: Readable, format: FormatName, ctx: ReplayContext, options: ReplayOptions = {}): Promise<void> {
  switch (format) {
    case 'pcap':
      return replayPcap(input, ctx, pcapSourceSchema.parse({ type: 'pcap' }), { registry: options.registry });
    case 'netflow':
      return replayNetflowPcap(input, ctx, netflowSourceSchema.parse({ type: 'netflow' }), options.registry);
    case 'zeek':
      return replayLines(input, createZeekDecoder(ctx.sourceId), ctx);
    case 'vpc':
      return replayLines(input, createVpcDecoder(ctx.sourceId), ctx);
    case 'squid':
      return replayLines(input, createSquidDecoder(ctx.sourceId, options.squid ?? squidFormatSchema.parse({})), ctx, { format: 'squid' });
  }
}

export function openInput(path: string): Readable {
  return path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
}
