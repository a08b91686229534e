import { execFileSync } from 'node:child_process';
import type { FlowRecord } from '../../../src/record.js';

// Ground truth for flow exports, computed from the original capture by tshark (not by our
// reader): per unidirectional 5-tuple, IP bytes, packets and first/last packet times.

export interface TruthFlow {
  key: string;
  v6: boolean;
  bytes: number;
  packets: number;
  first: number;
  last: number;
  /** First and last packet of the connection, both directions. */
  connectionFirst?: number;
  connectionLast?: number;
}

export function flowKey(src: string, srcPort: number, dst: string, dstPort: number, proto: number): string {
  return `${proto} ${src}:${srcPort} > ${dst}:${dstPort}`;
}

export function groundTruth(tshark: string, capture: string): Map<string, TruthFlow> {
  const text = execFileSync(
    tshark,
    [
      '-r', capture, '-T', 'fields', '-E', 'separator=,',
      '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst',
      '-e', 'ip.proto', '-e', 'ipv6.nxt', '-e', 'tcp.srcport', '-e', 'tcp.dstport',
      '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'ip.len', '-e', 'ipv6.plen',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 },
  );
  const flows = new Map<string, TruthFlow>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [time, src4, dst4, src6, dst6, proto4, proto6, tcpSrc, tcpDst, udpSrc, udpDst, len4, plen6] = line.split(',');
    const v6 = !src4;
    const src = v6 ? src6! : src4!;
    const dst = v6 ? dst6! : dst4!;
    if (!src || !dst) continue;
    const proto = Number(v6 ? proto6 : proto4);
    const srcPort = Number(tcpSrc || udpSrc || 0);
    const dstPort = Number(tcpDst || udpDst || 0);
    // Tunnelled or ICMP-quoted packets carry several values; the outer header is the first.
    const bytes = v6 ? Number(plen6!.split(';')[0]) + 40 : Number(len4!.split(';')[0]);
    const ms = Math.floor(Number(time) * 1000);
    const key = flowKey(src.split(';')[0]!, srcPort, dst.split(';')[0]!, dstPort, proto);
    const flow = flows.get(key);
    if (flow) {
      flow.bytes += bytes;
      flow.packets += 1;
      flow.first = Math.min(flow.first, ms);
      flow.last = Math.max(flow.last, ms);
    } else flows.set(key, { key, v6, bytes, packets: 1, first: ms, last: ms });
  }
  // softflowd tracks a connection as one bidirectional flow and stamps both exported directions
  // with the connection's first and last packet times.
  const connections = new Map<string, { first: number; last: number }>();
  for (const f of flows.values()) {
    const c = connections.get(connectionKey(f.key));
    if (c) {
      c.first = Math.min(c.first, f.first);
      c.last = Math.max(c.last, f.last);
    } else connections.set(connectionKey(f.key), { first: f.first, last: f.last });
  }
  for (const f of flows.values()) {
    const c = connections.get(connectionKey(f.key))!;
    f.connectionFirst = c.first;
    f.connectionLast = c.last;
  }
  return flows;
}

function connectionKey(key: string): string {
  const [proto, a, , b] = key.split(' ');
  return `${proto} ${[a, b].sort().join(' ')}`;
}

/** Decoded records summed per 5-tuple (an exporter may split one flow across records). */
export function aggregate(records: readonly FlowRecord[]): Map<string, TruthFlow> {
  const flows = new Map<string, TruthFlow>();
  for (const r of records) {
    const key = flowKey(r.src, r.srcPort, r.dst, r.dstPort, r.proto);
    const flow = flows.get(key);
    if (flow) {
      flow.bytes += r.bytesOut;
      flow.packets += r.packetsOut;
      flow.first = Math.min(flow.first, r.ts);
      flow.last = Math.max(flow.last, r.tsEnd);
    } else flows.set(key, { key, v6: r.src.includes(':'), bytes: r.bytesOut, packets: r.packetsOut, first: r.ts, last: r.tsEnd });
  }
  return flows;
}
