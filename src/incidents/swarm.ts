import type { Signal } from './types.js';
import type { Finding } from './lifecycle.js';
import { formatIPv4 } from '../util/ip.js';

// Swarm correlation: two or more internal hosts in the same unapproved info hash, or pulling
// from the same unapproved source, within the long window — one incident naming every host.
// Bounded: at most `maxKeys` hashes and sources, members expire after the long window.

export interface SwarmMember {
  firstTs: number;
  lastTs: number;
  /** Bytes downloaded from the source (or in flows carrying the hash). */
  bytes: number;
  /** Objects this host fetched from the source that other hosts fetched too. */
  objects: number;
  /** Peer-to-peer groups: remote peers this host shares with other members. */
  sharedPeers?: number;
  /** IPv4 /24 sources: the addresses (as numbers) this host pulled from, a few at most. */
  addresses?: number[];
}

/** Addresses remembered per member of an IPv4 /24 source. */
const MAX_MEMBER_ADDRESSES = 16;

/** A host pulled from address `v4` (a number; negative: not IPv4) of a /24 source. */
export function noteSourceAddress(member: SwarmMember, v4: number): void {
  if (v4 < 0) return;
  const addresses = (member.addresses ??= []);
  if (addresses.length < MAX_MEMBER_ADDRESSES && !addresses.includes(v4)) addresses.push(v4);
}

export interface SwarmRule {
  id: string;
  rev: number;
  min_score: number;
  min_hosts: number;
  min_bytes_per_host: number;
  min_shared_objects: number;
  min_shared_peers: number;
  source_requires_incident: boolean;
  signals: Record<'hosts' | 'bytes_in' | 'shared_keys', { threshold: number; saturate: number; weight: number }>;
}

export interface SwarmContext {
  longMs: number;
  /**
   * Did this host have a bulk_acquisition incident within the long window? A shared source joins
   * hosts acquiring from it; BitTorrent hosts correlate by info hash or shared peers instead.
   */
  hasBulkIncident: (host: string) => boolean;
  usersOf: (host: string) => string[];
  score: (features: Record<string, number>) => { score: number; signals: Signal[]; rule: string } | undefined;
}

type Members = Map<string, SwarmMember>;

export class SwarmIndex {
  private readonly byInfoHash = new Map<string, Members>();
  private readonly bySource = new Map<string, Members>();
  /** Keys with two or more members: the only ones worth evaluating. */
  private readonly shared = new Set<string>();
  /** Peer-to-peer hosts (no info hash seen) linked by the remote peers they share. */
  private readonly peerHosts = new Map<string, string[]>();
  private readonly groupOf = new Map<string, string>();
  private readonly groups = new Map<string, Members>();
  /** Distinct peers each pair of hosts shares; a pair links at `minSharedPeers`. */
  private readonly pairPeers = new Map<string, number>();
  minSharedPeers = 3;

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.byInfoHash.size + this.bySource.size + this.groups.size + this.peerHosts.size;
  }

  /** A host carried an unapproved info hash. */
  noteInfoHash(hash: string, host: string, ts: number, bytes: number): void {
    const m = this.member(this.byInfoHash, 'ih:', hash, host, ts);
    m.bytes += bytes;
  }

  /**
   * A host with a BitTorrent incident talked to a peer. Hosts sharing peers join one group
   * (named after the first peer that linked them), the flow-only counterpart of a shared info hash.
   */
  notePeer(peer: string, host: string, ts: number, bytes: number): void {
    const group = this.groupOf.get(host);
    const member = group ? this.groups.get(group)?.get(host) : undefined;
    if (member) {
      member.bytes += bytes;
      if (ts > member.lastTs) member.lastTs = ts;
    }
    let hosts = this.peerHosts.get(peer);
    if (!hosts) {
      if (this.peerHosts.size >= this.maxKeys * 4) this.peerHosts.delete(this.peerHosts.keys().next().value as string);
      hosts = [];
      this.peerHosts.set(peer, hosts);
    }
    if (hosts.includes(host) || hosts.length >= 16) return;
    hosts.push(host);
    for (const other of hosts) {
      if (other === host) continue;
      // Two swarms drawing from one big address pool share a peer now and then: a pair of
      // hosts links only once it shares several distinct peers.
      const pair = other < host ? `${other} ${host}` : `${host} ${other}`;
      const count = (this.pairPeers.get(pair) ?? 0) + 1;
      if (this.pairPeers.size >= this.maxKeys * 4 && count === 1) continue;
      this.pairPeers.set(pair, count);
      if (count >= this.minSharedPeers) this.link(peer, other, host, ts);
    }
  }

  private link(peer: string, a: string, b: string, ts: number): void {
    let ga = this.groupOf.get(a);
    let gb = this.groupOf.get(b);
    if (ga && gb && ga !== gb) {
      // Merge the younger group into the older one (insertion order), keeping its name.
      let older = ga;
      for (const g of this.groups.keys()) {
        if (g === ga || g === gb) {
          older = g;
          break;
        }
      }
      const younger = older === ga ? gb : ga;
      const into = this.groups.get(older)!;
      for (const [h, m] of this.groups.get(younger) ?? []) {
        into.set(h, m);
        this.groupOf.set(h, older);
      }
      this.groups.delete(younger);
      this.shared.delete(`p2p:${younger}`);
      ga = gb = older;
    }
    const name = ga ?? gb ?? peer;
    let members = this.groups.get(name);
    if (!members) {
      if (this.groups.size >= this.maxKeys) {
        const oldest = this.groups.keys().next().value as string;
        for (const h of this.groups.get(oldest)!.keys()) this.groupOf.delete(h);
        this.groups.delete(oldest);
        this.shared.delete(`p2p:${oldest}`);
      }
      members = new Map();
      this.groups.set(name, members);
    }
    for (const h of [a, b]) {
      this.groupOf.set(h, name);
      let m = members.get(h);
      if (!m) {
        m = { firstTs: ts, lastTs: ts, bytes: 0, objects: 0, sharedPeers: 0 };
        members.set(h, m);
      }
      m.sharedPeers = (m.sharedPeers ?? 0) + 1;
      if (ts > m.lastTs) m.lastTs = ts;
    }
    if (members.size >= 2) this.shared.add(`p2p:${name}`);
  }

  /** A host pulled a lot from a source; the caller adds further bytes to the returned member. */
  sourceMember(source: string, host: string, ts: number): SwarmMember {
    return this.member(this.bySource, 'src:', source, host, ts);
  }

  /** Hosts fetched the same object from `source`; every one of them gets credit once. */
  noteSharedObject(source: string, hosts: readonly string[], ts: number): void {
    for (const h of hosts) this.member(this.bySource, 'src:', source, h, ts).objects++;
  }

  private member(map: Map<string, Members>, prefix: string, key: string, host: string, ts: number): SwarmMember {
    let members = map.get(key);
    if (!members) {
      if (map.size >= this.maxKeys) {
        const oldest = map.keys().next().value as string;
        map.delete(oldest);
        this.shared.delete(prefix + oldest);
      }
      members = new Map();
      map.set(key, members);
    }
    let m = members.get(host);
    if (!m) {
      m = { firstTs: ts, lastTs: ts, bytes: 0, objects: 0 };
      members.set(host, m);
      if (members.size === 2) this.shared.add(prefix + key);
    } else if (ts > m.lastTs) m.lastTs = ts;
    else if (ts < m.firstTs) m.firstTs = ts;
    return m;
  }

  /** Findings for every shared key at event time `now`. */
  evaluate(now: number, rule: SwarmRule, ctx: SwarmContext): Finding[] {
    const findings: Finding[] = [];
    for (const key of this.shared) {
      const isHash = key.startsWith('ih:');
      const isPeers = key.startsWith('p2p:');
      const name = key.slice(key.indexOf(':') + 1);
      const map = isHash ? this.byInfoHash : isPeers ? this.groups : this.bySource;
      const members = map.get(name);
      if (!members) {
        this.shared.delete(key);
        continue;
      }
      for (const [host, m] of members) {
        if (now - m.lastTs <= ctx.longMs) continue;
        members.delete(host);
        if (isPeers) this.groupOf.delete(host);
      }
      if (members.size < 2) {
        this.shared.delete(key);
        if (members.size === 0) map.delete(name);
        continue;
      }
      const eligible: string[] = [];
      for (const [host, m] of members) {
        if (!isHash && !isPeers) {
          const pulled = m.bytes >= rule.min_bytes_per_host || m.objects >= rule.min_shared_objects;
          if (!pulled || (rule.source_requires_incident && !ctx.hasBulkIncident(host))) continue;
        }
        eligible.push(host);
      }
      if (eligible.length < rule.min_hosts) continue;
      // A /24 can hold unrelated sites: there, hosts are one swarm only when they share addresses.
      const groups = !isHash && !isPeers && name.endsWith('/24') ? byAddress(eligible, members) : [{ hosts: eligible, tag: '' }];
      for (const group of groups) {
        if (group.hosts.length < rule.min_hosts) continue;
        const finding = this.finding(group.tag ? `${key}@${group.tag}` : key, name, group.hosts, members, isHash, isPeers, ctx);
        if (finding) findings.push(finding);
      }
    }
    return findings;
  }

  /** The finding for one group of hosts of a shared key, when the rule scores it. */
  private finding(key: string, name: string, hosts: string[], members: Members, isHash: boolean, isPeers: boolean, ctx: SwarmContext): Finding | undefined {
    let bytes = 0;
    let objects = 0;
    let first = Infinity;
    let last = -Infinity;
    let sharedPeers = 0;
    for (const host of hosts) {
      const m = members.get(host)!;
      bytes += m.bytes;
      objects += m.objects;
      sharedPeers += m.sharedPeers ?? 0;
      if (m.firstTs < first) first = m.firstTs;
      if (m.lastTs > last) last = m.lastTs;
    }
    hosts.sort();
    const sharedKeys = isHash ? 1 : isPeers ? sharedPeers : Math.max(1, objects);
    const scored = ctx.score({ hosts: hosts.length, bytes_in: bytes, shared_keys: sharedKeys });
    if (!scored) return undefined;
    const users = new Set<string>();
    for (const h of hosts) for (const u of ctx.usersOf(h)) users.add(u);
    return {
      kind: 'swarm',
      key,
      rule: scored.rule,
      hosts,
      score: scored.score,
      signals: scored.signals,
      episodeStart: first,
      activityTs: last,
      bytesIn: bytes,
      bytesOut: 0,
      peers: hosts.length,
      infoHashes: isHash ? [name] : [],
      remotes: isHash ? [] : [{ label: isPeers ? `peers shared with ${name}` : name, bytes }],
      users: [...users].sort(),
      approvedSource: null,
    };
  }

  toJSON(): unknown {
    const dump = (map: Map<string, Members>) => [...map.entries()].map(([k, members]) => [k, [...members.entries()]]);
    return {
      byInfoHash: dump(this.byInfoHash),
      bySource: dump(this.bySource),
      groups: dump(this.groups),
      peerHosts: [...this.peerHosts.entries()],
      pairPeers: [...this.pairPeers.entries()],
      shared: [...this.shared],
    };
  }

  restore(json: unknown): void {
    type Dump = [string, [string, SwarmMember][]][];
    const j = json as { byInfoHash: Dump; bySource: Dump; groups?: Dump; peerHosts?: [string, string[]][]; pairPeers?: [string, number][]; shared: string[] };
    for (const [pair, n] of j.pairPeers ?? []) this.pairPeers.set(pair, n);
    for (const [k, members] of j.byInfoHash) this.byInfoHash.set(k, new Map(members));
    for (const [k, members] of j.bySource) this.bySource.set(k, new Map(members));
    for (const [k, members] of j.groups ?? []) {
      this.groups.set(k, new Map(members));
      for (const [h] of members) this.groupOf.set(h, k);
    }
    for (const [peer, hosts] of j.peerHosts ?? []) this.peerHosts.set(peer, hosts);
    for (const k of j.shared) this.shared.add(k);
  }

  /** Member object of a restored source, so restored tallies keep feeding it. */
  existingSourceMember(source: string, host: string): SwarmMember | undefined {
    return this.bySource.get(source)?.get(host);
  }
}

/**
 * Hosts of a /24 source grouped by the addresses they share, transitively; hosts that noted no
 * address (shared objects only) form one group. A group is tagged with its lowest address.
 */
function byAddress(hosts: string[], members: Members): { hosts: string[]; tag: string }[] {
  const parent = hosts.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const firstHolder = new Map<number, number>();
  hosts.forEach((host, i) => {
    for (const a of members.get(host)!.addresses ?? []) {
      const j = firstHolder.get(a);
      if (j === undefined) firstHolder.set(a, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, { hosts: string[]; lowest: number }>();
  hosts.forEach((host, i) => {
    const addresses = members.get(host)!.addresses ?? [];
    const root = addresses.length === 0 ? -1 : find(i);
    let group = groups.get(root);
    if (!group) groups.set(root, (group = { hosts: [], lowest: Infinity }));
    group.hosts.push(host);
    for (const a of addresses) if (a < group.lowest) group.lowest = a;
  });
  return [...groups.values()].map((g) => ({ hosts: g.hosts, tag: Number.isFinite(g.lowest) ? formatIPv4(g.lowest) : '' }));
}

const SECOND_LEVEL = new Set(['co', 'com', 'net', 'org', 'gov', 'edu', 'ac', 'ne', 'or']);

/**
 * The source a remote stands for: its registrable domain when named, else its IPv4 /24 (one
 * mirror or CDN edge usually spans several neighbouring addresses) or its IPv6 address.
 */
export function sourceKey(label: string): string {
  if (label.includes(':')) return label;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(label)) return label.slice(0, label.lastIndexOf('.')) + '.0/24';
  const parts = label.toLowerCase().replace(/\.$/, '').split('.');
  if (parts.length <= 2) return parts.join('.');
  const tld = parts[parts.length - 1]!;
  const sld = parts[parts.length - 2]!;
  const take = tld.length === 2 && SECOND_LEVEL.has(sld) ? 3 : 2;
  return parts.slice(-take).join('.');
}
