import type { FlowRecord } from '../../record.js';

// Per-minute flow aggregates per (internal host, remote IP), built on the hot path from enriched
// records. Nested maps keyed by minute → host → remote keep the per-record cost to a few map
// lookups and additions (no string building, no allocation once a bucket exists).

export interface FlowBucket {
  /** Start of the minute, epoch seconds. */
  minute: number;
  host: string;
  remoteIp: string;
  remoteName: string;
  approvedSource: string;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  records: number;
}

export class FlowAggregator {
  private readonly minutes = new Map<number, Map<string, Map<string, FlowBucket>>>();
  private keys = 0;
  /** Records without an internal host or remote: not aggregated. */
  skipped = 0;

  constructor(
    private readonly maxKeys: number,
    /** Called (synchronously) once the key count reaches maxKeys; the owner drains. */
    private readonly onFull: () => void,
  ) {}

  get size(): number {
    return this.keys;
  }

  observe(batch: readonly FlowRecord[]): void {
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      const host = r.host;
      const remote = r.remote;
      if (host === undefined || remote === undefined) {
        this.skipped += 1;
        continue;
      }
      const minute = Math.floor(r.ts / 60_000) * 60;
      let hosts = this.minutes.get(minute);
      if (hosts === undefined) {
        hosts = new Map();
        this.minutes.set(minute, hosts);
      }
      let remotes = hosts.get(host);
      if (remotes === undefined) {
        remotes = new Map();
        hosts.set(host, remotes);
      }
      let bucket = remotes.get(remote.ip);
      if (bucket === undefined) {
        bucket = {
          minute,
          host,
          remoteIp: remote.ip,
          remoteName: remote.name ?? r.serverName ?? '',
          approvedSource: r.approval && !r.approval.expired ? r.approval.name : '',
          bytesIn: 0,
          bytesOut: 0,
          packetsIn: 0,
          packetsOut: 0,
          records: 0,
        };
        remotes.set(remote.ip, bucket);
        this.keys += 1;
      } else if (bucket.remoteName === '' && remote.name) {
        bucket.remoteName = remote.name;
      }
      bucket.bytesIn += r.bytesIn;
      bucket.bytesOut += r.bytesOut;
      bucket.packetsIn += r.packetsIn;
      bucket.packetsOut += r.packetsOut;
      bucket.records += 1;
      if (this.keys >= this.maxKeys) this.onFull();
    }
  }

  /** Hand over every bucket and start empty. */
  drain(): FlowBucket[] {
    const out: FlowBucket[] = [];
    for (const hosts of this.minutes.values()) {
      for (const remotes of hosts.values()) {
        for (const bucket of remotes.values()) out.push(bucket);
      }
    }
    this.minutes.clear();
    this.keys = 0;
    return out;
  }
}

export function flowRow(b: FlowBucket, gateway: string): Record<string, unknown> {
  return {
    minute: b.minute,
    host: b.host,
    remote_ip: b.remoteIp,
    remote_name: b.remoteName,
    approved_source: b.approvedSource,
    bytes_in: b.bytesIn,
    bytes_out: b.bytesOut,
    packets_in: b.packetsIn,
    packets_out: b.packetsOut,
    records: b.records,
    batch_token: '',
    gateway,
  };
}
