import type { AppEvidence, FlowRecord, ApprovalRef } from '../record.js';
import { CidrSet, parseCidr, parseIPv4 } from '../util/ip.js';
import type { ApprovedSource, ApprovedSourcesRules, NetworksRules } from './rules.js';

export * from './rules.js';

const DAY_MS = 86_400_000;
/**
 * Answers remembered per address or host name before starting over: flows name the same hosts over
 * and over, and a text seen before hashes once (V8 keeps a string's hash) where parsing it (IPv6
 * into a bigint) and walking the ranges or a name's domains costs several times more.
 */
const MEMO_ENTRIES = 4096;
/** Addresses are more numerous than names: a network's hosts and the remotes they reach in a while. */
const ADDRESS_MEMO_ENTRIES = 1 << 16;

interface ApprovalEntry {
  source: ApprovedSource;
  /** Epoch ms after which it no longer applies; Infinity when it never expires. */
  expiresAt: number;
}

/**
 * Tags records with their internal host, remote endpoint and the approved source that covers
 * the remote. Pure: no I/O; the rules are handed in.
 */
export class Enricher {
  private readonly internal = new CidrSet<string>();
  private readonly excluded = new CidrSet<true>();
  private readonly byCidr = new CidrSet<ApprovalEntry>();
  private readonly byDomain = new Map<string, ApprovalEntry>();
  private readonly byUrlPrefix: { prefix: string; entry: ApprovalEntry }[] = [];
  private readonly byInfoHash = new Map<string, ApprovalEntry>();
  private readonly byTracker: { tracker: string; entry: ApprovalEntry }[] = [];
  private readonly internalByAddress = new Map<string, boolean>();
  private readonly cidrApprovalByV6Address = new Map<string, ApprovalEntry | null>();
  private readonly domainApprovalByName = new Map<string, ApprovalEntry | null>();

  constructor(networks: NetworksRules, approved: ApprovedSourcesRules) {
    for (const r of networks.internal) {
      const text = typeof r === 'string' ? r : r.cidr;
      const name = typeof r === 'string' ? r : (r.name ?? r.cidr);
      this.internal.add(parseCidr(text), name);
    }
    for (const r of networks.exclude) this.excluded.add(parseCidr(r), true);
    for (const source of approved.sources) {
      // A bare date expires at the end of that day (UTC).
      const expiresAt = source.expires === undefined ? Infinity : source.expires + (source.expires % DAY_MS === 0 ? DAY_MS - 1 : 0);
      const entry: ApprovalEntry = { source, expiresAt };
      for (const c of source.match.cidrs) this.byCidr.add(parseCidr(c), entry);
      for (const d of source.match.domains) if (!this.byDomain.has(d)) this.byDomain.set(d, entry);
      for (const u of source.match.url_prefixes) this.byUrlPrefix.push({ prefix: normalizeUrlPrefix(u), entry });
      for (const h of source.match.info_hashes) this.byInfoHash.set(h, entry);
      for (const t of source.match.trackers) this.byTracker.push({ tracker: t.toLowerCase(), entry });
    }
    this.byUrlPrefix.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  isInternal(ip: string): boolean {
    let internal = this.internalByAddress.get(ip);
    if (internal === undefined) {
      // Nearly every address is IPv4: parse it once for both sets.
      const v4 = parseIPv4(ip);
      if (v4 >= 0) internal = this.internal.lookupV4(v4) !== undefined && (this.excluded.size === 0 || this.excluded.lookupV4(v4) === undefined);
      else internal = ip !== '' && this.internal.lookup(ip) !== undefined && this.excluded.lookup(ip) === undefined;
      remember(this.internalByAddress, ip, internal, ADDRESS_MEMO_ENTRIES);
    }
    return internal;
  }

  /**
   * Orient the record around its internal host and tag the approval. Returns false when the
   * record is not egress (both sides internal, or neither): it keeps no `host`.
   */
  enrich(rec: FlowRecord): boolean {
    const srcInternal = this.isInternal(rec.src);
    const dstInternal = this.isInternal(rec.dst);
    if (srcInternal === dstInternal) {
      rec.approval = null;
      return false;
    }
    if (srcInternal) {
      rec.host = rec.src;
      rec.remote = rec.serverName
        ? { ip: rec.dst, port: rec.dstPort, name: rec.serverName }
        : { ip: rec.dst, port: rec.dstPort };
    } else {
      rec.host = rec.dst;
      rec.remote = { ip: rec.src, port: rec.srcPort };
      const bytes = rec.bytesOut;
      rec.bytesOut = rec.bytesIn;
      rec.bytesIn = bytes;
      const packets = rec.packetsOut;
      rec.packetsOut = rec.packetsIn;
      rec.packetsIn = packets;
    }
    rec.approval = this.approvalFor(rec);
    return true;
  }

  /** The approved source covering this record's remote side, or null. */
  approvalFor(rec: FlowRecord): ApprovalRef | null {
    const at = rec.ts;
    const app = rec.app;
    if (app?.name === 'bittorrent') {
      // BitTorrent is approved only per torrent or per tracker, never by the peer's address.
      const entry = this.approvedTorrent(app);
      if (entry) return ref(entry, 'info_hash', at);
      if (app.tracker) {
        const tracker = app.tracker.toLowerCase();
        const host = trackerHost(tracker);
        for (const t of this.byTracker) {
          // An approved tracker given as a URL matches by prefix; as a bare name, by domain.
          const matches = t.tracker.includes('://')
            ? tracker.startsWith(t.tracker)
            : host !== undefined && (host === t.tracker || host.endsWith(`.${t.tracker}`));
          if (matches) return ref(t.entry, 'tracker', at);
        }
      }
      return null;
    }
    if (rec.url && this.byUrlPrefix.length > 0) {
      const url = normalizeUrlPrefix(rec.url);
      for (const u of this.byUrlPrefix) if (url.startsWith(u.prefix)) return ref(u.entry, 'url_prefix', at);
    }
    const name = rec.remote?.name;
    if (name && this.byDomain.size > 0) {
      let entry = this.domainApprovalByName.get(name);
      if (entry === undefined) {
        entry = this.approvedDomain(name) ?? null;
        remember(this.domainApprovalByName, name, entry);
      }
      if (entry) return ref(entry, 'domain', at);
    }
    if (rec.remote && this.byCidr.size > 0) {
      const entry = this.approvedAddress(rec.remote.ip);
      if (entry) return ref(entry, 'cidr', at);
    }
    return null;
  }

  private approvedAddress(ip: string): ApprovalEntry | undefined {
    const v4 = parseIPv4(ip);
    if (v4 >= 0) return this.byCidr.lookupV4(v4);
    let entry = this.cidrApprovalByV6Address.get(ip);
    if (entry === undefined) {
      entry = this.byCidr.lookup(ip) ?? null;
      remember(this.cidrApprovalByV6Address, ip, entry);
    }
    return entry ?? undefined;
  }

  /** The entry approving one of the flow's info hashes (its list when it has one, else its hash). */
  private approvedTorrent(app: AppEvidence): ApprovalEntry | undefined {
    if (this.byInfoHash.size === 0) return undefined;
    if (app.infoHashes) {
      for (const h of app.infoHashes) {
        const entry = this.byInfoHash.get(h);
        if (entry) return entry;
      }
      return undefined;
    }
    return app.infoHash ? this.byInfoHash.get(app.infoHash) : undefined;
  }

  /** `example.com` approves itself and every subdomain. */
  private approvedDomain(name: string): ApprovalEntry | undefined {
    let domain = name.toLowerCase();
    if (domain.endsWith('.')) domain = domain.slice(0, -1);
    for (;;) {
      const entry = this.byDomain.get(domain);
      if (entry) return entry;
      const dot = domain.indexOf('.');
      if (dot < 0) return undefined;
      domain = domain.slice(dot + 1);
    }
  }
}

/** Bounded memo: a full one starts over rather than tracking recency on every hit. */
function remember<V>(memo: Map<string, V>, key: string, value: V, limit = MEMO_ENTRIES): void {
  if (memo.size >= limit) memo.clear();
  memo.set(key, value);
}

function ref(entry: ApprovalEntry, matchedBy: string, at: number): ApprovalRef {
  return { name: entry.source.name, owner: entry.source.owner, expired: at > entry.expiresAt, matchedBy };
}

/** Host name of a tracker URL (`udp://tracker.example.org:6969/announce`), or of a bare host. */
function trackerHost(tracker: string): string | undefined {
  const m = /^(?:[a-z][a-z0-9+.-]*:\/\/)?([^/:?#\s]+)/.exec(tracker);
  return m?.[1];
}

/** Lowercase scheme and host so prefixes compare as URLs, not as raw text. */
function normalizeUrlPrefix(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(url);
  if (!m) return url;
  return m[1]!.toLowerCase() + m[2]!.toLowerCase() + m[3]!;
}
