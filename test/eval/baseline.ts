import type { ScoredIncident } from './score.js';
import type { Conn, ProxyRequest } from './types.js';
import { DAY_MS, NAIVE_BT_PORTS } from './world.js';

// The naive detector egressd is compared with: a known BitTorrent port list plus a fixed
// bytes-per-day threshold per host. It reads the same generated records the formats carry.

export const NAIVE_BYTES_PER_DAY = 2 * 1024 ** 3;

interface Pending {
  kind: 'bittorrent' | 'bulk_acquisition';
  host: string;
  first: number;
  last: number;
}

function isInternal(ip: string): boolean {
  return ip.startsWith('10.');
}

class NaiveDetector {
  private readonly bt = new Map<string, Pending>();
  private readonly bytes = new Map<string, { bytes: number; first: number; last: number; crossed?: number }>();

  constructor(
    private readonly start: number,
    private readonly bytesPerDay: number,
  ) {}

  port(host: string, ts: number): void {
    const p = this.bt.get(host);
    if (p) p.last = Math.max(p.last, ts);
    else this.bt.set(host, { kind: 'bittorrent', host, first: ts, last: ts });
  }

  volume(host: string, ts: number, bytes: number): void {
    const day = Math.floor((ts - this.start) / DAY_MS);
    const key = `${host}|${day}`;
    const v = this.bytes.get(key);
    const entry = v ?? { bytes: 0, first: ts, last: ts };
    if (!v) this.bytes.set(key, entry);
    entry.bytes += bytes;
    entry.first = Math.min(entry.first, ts);
    entry.last = Math.max(entry.last, ts);
    // Records arrive in time order, so the crossing is when the naive alert would fire.
    if (entry.crossed === undefined && entry.bytes > this.bytesPerDay) entry.crossed = ts;
  }

  incidents(): ScoredIncident[] {
    const out: ScoredIncident[] = [];
    for (const p of this.bt.values()) out.push(incident(`naive-bt-${p.host}`, 'bittorrent', p.host, p.first, p.last, p.first));
    for (const [key, v] of this.bytes) {
      if (v.crossed === undefined) continue;
      const host = key.split('|')[0]!;
      out.push(incident(`naive-bytes-${key}`, 'bulk_acquisition', host, v.first, v.last, v.crossed));
    }
    return out;
  }
}

function incident(id: string, kind: string, host: string, first: number, last: number, detected: number): ScoredIncident {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return { id, kind, hosts: [host], first_seen: iso(first), last_seen: iso(last), detected_at: iso(detected), rule: 'naive' };
}

/** Baseline over flow records (Zeek, VPC): either port in the list; bytes both ways per day. */
export function naiveFlowBaseline(conns: Conn[], start: number, bytesPerDay = NAIVE_BYTES_PER_DAY): ScoredIncident[] {
  const d = new NaiveDetector(start, bytesPerDay);
  for (const c of conns) {
    if (isInternal(c.remote)) continue;
    if (NAIVE_BT_PORTS.has(c.remotePort) || NAIVE_BT_PORTS.has(c.hostPort)) d.port(c.host, c.ts);
    d.volume(c.host, c.ts, c.bytesIn + c.bytesOut);
  }
  return d.incidents();
}

/** Port of a proxy URL (`host:port` for CONNECT, else from the URL), or the scheme default. */
export function urlPort(method: string, url: string): number {
  const authority = method === 'CONNECT' ? url : (/^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '');
  const m = /:(\d+)$/.exec(authority);
  if (m) return Number(m[1]);
  return url.startsWith('http://') ? 80 : 443;
}

/** Baseline over a proxy log: the URL's port in the list; reply bytes per client per day. */
export function naiveProxyBaseline(requests: ProxyRequest[], start: number, bytesPerDay = NAIVE_BYTES_PER_DAY): ScoredIncident[] {
  const d = new NaiveDetector(start, bytesPerDay);
  for (const r of requests) {
    if (NAIVE_BT_PORTS.has(urlPort(r.method, r.url))) d.port(r.host, r.ts);
    d.volume(r.host, r.ts, r.bytes);
  }
  return d.incidents();
}
