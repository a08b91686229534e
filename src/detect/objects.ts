// The same unapproved object (proxy URL without query) fetched by several hosts within the long
// window. Bounded: at most `maxKeys` objects, oldest dropped first; at most 16 hosts per object.

export interface ObjectEntry {
  hosts: string[];
  lastTs: number;
}

const MAX_HOSTS_PER_OBJECT = 16;

export class ObjectIndex {
  private readonly objects = new Map<string, ObjectEntry>();

  constructor(
    private readonly maxKeys: number,
    private readonly longMs: number,
  ) {}

  get size(): number {
    return this.objects.size;
  }

  /**
   * `host` fetched `key`. Returns the hosts that now share it for the first time with this one
   * (including `host` itself, and the first fetcher when the object just became shared), or an
   * empty list when nothing new is shared.
   */
  fetched(key: string, host: string, ts: number): string[] {
    let entry = this.objects.get(key);
    if (entry && ts - entry.lastTs > this.longMs) {
      this.objects.delete(key);
      entry = undefined;
    }
    if (!entry) {
      if (this.objects.size >= this.maxKeys) this.objects.delete(this.objects.keys().next().value as string);
      this.objects.set(key, { hosts: [host], lastTs: ts });
      return [];
    }
    if (ts > entry.lastTs) entry.lastTs = ts;
    if (entry.hosts.includes(host) || entry.hosts.length >= MAX_HOSTS_PER_OBJECT) return [];
    entry.hosts.push(host);
    // Keep recently shared objects at the young end of the eviction order.
    this.objects.delete(key);
    this.objects.set(key, entry);
    return entry.hosts.length === 2 ? [...entry.hosts] : [host];
  }

  /** Forget objects not fetched within the long window. */
  expire(now: number): void {
    for (const [key, entry] of this.objects) if (now - entry.lastTs > this.longMs) this.objects.delete(key);
  }

  toJSON(): unknown {
    return [...this.objects.entries()];
  }

  restore(json: unknown): void {
    for (const [k, v] of json as [string, ObjectEntry][]) this.objects.set(k, v);
  }
}
