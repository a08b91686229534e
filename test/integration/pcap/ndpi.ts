// Helpers shared by the packet-source golden tests: run egressd's pcap replay in-process, read
// nDPI's flow lines (stored `.out` files or a live `ndpiReader -v 2` run), key flows alike.

import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { Registry } from 'prom-client';
import type { FlowRecord } from '../../../src/record.js';
import { pcapSourceSchema } from '../../../src/sources/pcap/config.js';
import { replayPcap } from '../../../src/sources/pcap/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { sourceMetrics } from '../../../src/telemetry/metrics.js';
import { formatIPv6, parseIPv6 } from '../../../src/util/ip.js';

const PROTO: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMPV6: 58, ICMP6: 58 };

function endpoint(ip: string, port: number): string {
  const v6 = ip.includes(':') ? parseIPv6(ip) : undefined;
  return `${v6 !== undefined ? formatIPv6(v6) : ip}|${port}`;
}

/** The same key for both directions of a 5-tuple. */
export function flowKey(proto: number, a: string, aPort: number, b: string, bPort: number): string {
  const x = endpoint(a, aPort);
  const y = endpoint(b, bPort);
  return x < y ? `${proto}|${x}|${y}` : `${proto}|${y}|${x}`;
}

export interface NdpiFlow {
  key: string;
  protocol: string;
  bittorrent: boolean;
}

const LINE = /^\s+\d+\s+(TCP|UDP|ICMP|ICMPV6)\s+(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)\s+<?->\s+(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)\s+\[proto: [0-9.]+\/([^\]]+)\]/;

/** Flow lines of ndpiReader output (`-v 2`, or the stored `.out` result files). */
export function parseNdpiFlows(text: string): Map<string, NdpiFlow> {
  const flows = new Map<string, NdpiFlow>();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const strip = (ip: string) => ip.replace(/^\[|\]$/g, '');
    const key = flowKey(PROTO[m[1]!]!, strip(m[2]!), Number(m[3]), strip(m[4]!), Number(m[5]));
    const protocol = m[6]!;
    const prev = flows.get(key);
    const bittorrent = /BitTorrent/i.test(protocol) || (prev?.bittorrent ?? false);
    flows.set(key, { key, protocol, bittorrent });
  }
  return flows;
}

export function runNdpiReader(ndpiReader: string, file: string): string {
  return execFileSync(ndpiReader, ['-i', file, '-v', '2'], { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export async function replayFile(file: string, overrides: Record<string, unknown> = {}): Promise<{ records: FlowRecord[]; registry: Registry }> {
  const records: FlowRecord[] = [];
  const registry = new Registry();
  await replayPcap(
    createReadStream(file),
    {
      sourceId: 'golden',
      out: {
        push: async (batch) => {
          records.push(...batch);
        },
      },
      metrics: sourceMetrics(registry),
      logger: silentLogger(),
    },
    pcapSourceSchema.parse({ type: 'pcap', ...overrides }),
    { registry },
  );
  return { records, registry };
}

export interface EgressdFlow {
  key: string;
  bittorrent: boolean;
  via?: string;
  infoHash?: string;
}

/** One entry per 5-tuple: BitTorrent when any of its records is. */
export function egressdFlows(records: readonly FlowRecord[]): Map<string, EgressdFlow> {
  const flows = new Map<string, EgressdFlow>();
  for (const r of records) {
    const key = flowKey(r.proto, r.src, r.srcPort, r.dst, r.dstPort);
    const bt = r.app?.name === 'bittorrent';
    const prev = flows.get(key);
    if (prev === undefined || (bt && !prev.bittorrent)) {
      const f: EgressdFlow = { key, bittorrent: bt };
      if (bt && r.app?.via) f.via = r.app.via;
      if (bt && r.app?.infoHash) f.infoHash = r.app.infoHash;
      flows.set(key, f);
    }
  }
  return flows;
}

export interface Confusion {
  /** nDPI BitTorrent, egressd BitTorrent. */
  bothBt: number;
  ndpiBtOnly: number;
  egressdBtOnly: number;
  neither: number;
}

export function confusion(ndpi: Map<string, NdpiFlow>, egressd: Map<string, EgressdFlow>): Confusion {
  const c: Confusion = { bothBt: 0, ndpiBtOnly: 0, egressdBtOnly: 0, neither: 0 };
  const keys = new Set([...ndpi.keys(), ...egressd.keys()]);
  for (const k of keys) {
    const n = ndpi.get(k)?.bittorrent ?? false;
    const e = egressd.get(k)?.bittorrent ?? false;
    if (n && e) c.bothBt++;
    else if (n) c.ndpiBtOnly++;
    else if (e) c.egressdBtOnly++;
    else c.neither++;
  }
  return c;
}
