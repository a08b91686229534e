import { createHash } from 'node:crypto';
import type { Incident, IncidentChange, IncidentEvidence, IncidentKind, Severity, Signal } from './types.js';

// Incident lifecycle: findings (one per evaluation) merge into one incident per activity
// (kind + host, or kind + swarm key). open → updated (evidence grows, score may rise) → resolved
// after a quiet period of event time. Ids are deterministic, so a restart or a second replay of
// the same input names the same incident.

/** What detection hands over at each evaluation that passed a rule. */
export interface Finding {
  kind: IncidentKind;
  /** Host address for per-host kinds; `ih:<hash>` or `src:<source>` for swarms. */
  key: string;
  /** `id@rev` of the rule that scored it. */
  rule: string;
  hosts: string[];
  score: number;
  /** Overrides the score band (approved BitTorrent in `downgrade` mode is always low). */
  severity?: Severity;
  signals: Signal[];
  /** Event time the activity began (start of its episode). */
  episodeStart: number;
  /** Event time of the latest activity behind the finding. */
  activityTs: number;
  /** Event time of the evaluation (end of the short window that was scored). */
  evaluatedAt?: number;
  bytesIn: number;
  bytesOut: number;
  /** Monotonic per-host totals; evidence grows by their increase while the incident is open. */
  totalIn?: number;
  totalOut?: number;
  peers: number;
  infoHashes: string[];
  remotes: { label: string; bytes: number }[];
  users: string[];
  approvedSource: string | null;
  approvalExpired?: string;
}

export interface LifecycleOptions {
  quietPeriodMs: number;
  updateGrowth: number;
  updateScoreDelta: number;
  updateIntervalMs: number;
  topRemotes: number;
  /** Identifies the first window in incident ids (the short window). */
  idWindowMs: number;
  severity: (score: number) => Severity;
}

interface Tracked {
  incident: Incident;
  lastActivity: number;
  /**
   * Latest activity as epoch ms. `incident.last_seen` holds it as text, and `evidence.remotes`
   * the top of `remotes`, once `settle` ran (on every emitted change and snapshot), not at each
   * finding.
   */
  lastSeenMs: number;
  remotes: Map<string, number>;
  totalInAtOpen: number;
  totalOutAtOpen: number;
  bytesInAtOpen: number;
  bytesOutAtOpen: number;
  emitted: { bytes: number; score: number; severity: Severity; hosts: number; hashes: number; users: number; lastSeen: number; rule: string };
}

const MAX_LIST = 64;
const MAX_HOSTS = 1000;
const MAX_REMOTES_TRACKED = 64;

export function incidentId(kind: IncidentKind, key: string, firstWindow: number): string {
  return createHash('sha256').update(`${kind}|${key}|${firstWindow}`).digest('hex').slice(0, 24);
}

export class IncidentBook {
  private readonly open = new Map<string, Tracked>();
  /** The open incidents again by kind, then key: detection asks for every record and finding, without building a slot. */
  private readonly openByKind = new Map<IncidentKind, Map<string, Tracked>>();
  /** Last activity covered by a resolved incident, so the same activity never re-alerts. */
  private readonly resolvedUpTo = new Map<string, number>();
  readonly counts = { opened: 0, updated: 0, resolved: 0 };

  constructor(private readonly options: LifecycleOptions) {}

  get openCount(): number {
    return this.open.size;
  }

  hasOpen(kind: IncidentKind, key: string): boolean {
    return this.openByKind.get(kind)?.has(key) ?? false;
  }

  /** Open now, or resolved with activity at or after `since`. */
  activeSince(kind: IncidentKind, key: string, since: number): boolean {
    if (this.hasOpen(kind, key)) return true;
    if (this.resolvedUpTo.size === 0) return false;
    const last = this.resolvedUpTo.get(`${kind}|${key}`);
    return last !== undefined && last >= since;
  }

  openIncidents(): Incident[] {
    return [...this.open.values()].map((t) => this.settle(t));
  }

  /** Merge a finding evaluated at event time `now`; returns the change to emit, if any. */
  apply(f: Finding, now?: number): IncidentChange | undefined {
    const tracked = this.openByKind.get(f.kind)?.get(f.key);
    if (!tracked) {
      const slot = `${f.kind}|${f.key}`;
      const covered = this.resolvedUpTo.get(slot);
      if (covered !== undefined && f.activityTs <= covered) return undefined;
      return this.openIncident(slot, f, f.evaluatedAt ?? now ?? f.activityTs);
    }
    return this.updateIncident(tracked, f);
  }

  private openIncident(slot: string, f: Finding, now: number): IncidentChange {
    const first = Math.max(f.episodeStart, this.resolvedUpTo.get(slot) ?? -Infinity);
    const lastSeen = Math.max(first, f.activityTs);
    const remotes = new Map<string, number>();
    for (const r of f.remotes) remotes.set(r.label, r.bytes);
    const incident: Incident = {
      id: incidentId(f.kind, f.key, Math.floor(first / this.options.idWindowMs)),
      kind: f.kind,
      status: 'open',
      hosts: [...f.hosts].sort(),
      first_seen: iso(first),
      last_seen: iso(lastSeen),
      score: f.score,
      severity: f.severity ?? this.options.severity(f.score),
      approved_source: f.approvedSource,
      evidence: {
        bytes_in: Math.round(f.bytesIn),
        bytes_out: Math.round(f.bytesOut),
        peers: f.peers,
        info_hashes: [...f.infoHashes].sort().slice(0, MAX_LIST),
        remotes: topLabels(remotes, this.options.topRemotes),
        signals: f.signals,
        ...(f.users.length > 0 ? { users: [...f.users].sort() } : {}),
        ...(f.approvalExpired ? { approval_expired: f.approvalExpired } : {}),
      },
      rule: f.rule,
      version: 1,
      detected_at: iso(Math.max(now, first)),
    };
    const tracked: Tracked = {
      incident,
      lastActivity: f.activityTs,
      lastSeenMs: lastSeen,
      remotes,
      totalInAtOpen: f.totalIn ?? 0,
      totalOutAtOpen: f.totalOut ?? 0,
      bytesInAtOpen: f.bytesIn,
      bytesOutAtOpen: f.bytesOut,
      emitted: markOf(incident, f.activityTs),
    };
    this.track(slot, f.kind, f.key, tracked);
    this.counts.opened++;
    return { change: 'opened', incident: copyOf(incident) };
  }

  private updateIncident(t: Tracked, f: Finding): IncidentChange | undefined {
    const inc = t.incident;
    const ev = inc.evidence;
    if (f.activityTs > t.lastActivity) t.lastActivity = f.activityTs;
    if (f.activityTs > t.lastSeenMs) t.lastSeenMs = f.activityTs;
    // Evidence only grows: totals since open for hosts, the largest window seen for swarms.
    const bytesIn = f.totalIn !== undefined ? t.bytesInAtOpen + (f.totalIn - t.totalInAtOpen) : f.bytesIn;
    const bytesOut = f.totalOut !== undefined ? t.bytesOutAtOpen + (f.totalOut - t.totalOutAtOpen) : f.bytesOut;
    ev.bytes_in = Math.max(ev.bytes_in, Math.round(bytesIn));
    ev.bytes_out = Math.max(ev.bytes_out, Math.round(bytesOut));
    ev.peers = Math.max(ev.peers, f.peers);
    ev.info_hashes = union(ev.info_hashes, f.infoHashes);
    if (f.users.length > 0) ev.users = union(ev.users ?? [], f.users);
    inc.hosts = union(inc.hosts, f.hosts, MAX_HOSTS);
    for (const r of f.remotes) t.remotes.set(r.label, Math.max(t.remotes.get(r.label) ?? 0, r.bytes));
    if (t.remotes.size > MAX_REMOTES_TRACKED) {
      const keep = topLabels(t.remotes, MAX_REMOTES_TRACKED / 2);
      for (const k of [...t.remotes.keys()]) if (!keep.includes(k)) t.remotes.delete(k);
    }
    if (f.approvalExpired && !ev.approval_expired) ev.approval_expired = f.approvalExpired;
    // The score and its explanation follow the strongest evaluation seen.
    if (f.score >= inc.score) {
      inc.score = f.score;
      inc.severity = f.severity ?? this.options.severity(f.score);
      ev.signals = f.signals;
      inc.rule = f.rule;
      inc.approved_source = f.approvedSource;
    }
    const e = t.emitted;
    const material =
      Math.abs(inc.score - e.score) >= this.options.updateScoreDelta ||
      inc.severity !== e.severity ||
      inc.rule !== e.rule ||
      inc.hosts.length !== e.hosts ||
      ev.info_hashes.length !== e.hashes ||
      (ev.users?.length ?? 0) !== e.users ||
      ev.bytes_in + ev.bytes_out > e.bytes * (1 + this.options.updateGrowth) + 1 ||
      t.lastActivity - e.lastSeen >= this.options.updateIntervalMs;
    if (!material) return undefined;
    inc.version = (inc.version ?? 1) + 1;
    t.emitted = markOf(inc, t.lastActivity);
    this.counts.updated++;
    return { change: 'updated', incident: copyOf(this.settle(t)) };
  }

  /** Resolve incidents quiet for the quiet period at event time `now`. */
  sweep(now: number): IncidentChange[] {
    const changes: IncidentChange[] = [];
    for (const [slot, t] of this.open) {
      if (now - t.lastActivity < this.options.quietPeriodMs) continue;
      this.untrack(slot);
      t.incident.status = 'resolved';
      t.incident.version = (t.incident.version ?? 1) + 1;
      this.resolvedUpTo.set(slot, t.lastActivity);
      this.counts.resolved++;
      changes.push({ change: 'resolved', incident: copyOf(this.settle(t)) });
    }
    // Resolution markers matter only while their activity could still be re-evaluated.
    if (this.resolvedUpTo.size > 10_000) {
      for (const [slot, at] of this.resolvedUpTo) if (now - at > 4 * this.options.quietPeriodMs + 86_400_000) this.resolvedUpTo.delete(slot);
    }
    return changes;
  }

  private track(slot: string, kind: IncidentKind, key: string, tracked: Tracked): void {
    this.open.set(slot, tracked);
    let byKey = this.openByKind.get(kind);
    if (!byKey) this.openByKind.set(kind, (byKey = new Map()));
    byKey.set(key, tracked);
  }

  private untrack(slot: string): void {
    this.open.delete(slot);
    const bar = slot.indexOf('|');
    this.openByKind.get(slot.slice(0, bar) as IncidentKind)?.delete(slot.slice(bar + 1));
  }

  /** The tracked incident with `last_seen` and its top remotes brought up to date. */
  private settle(t: Tracked): Incident {
    const inc = t.incident;
    const text = iso(t.lastSeenMs);
    if (inc.last_seen !== text) inc.last_seen = text;
    inc.evidence.remotes = topLabels(t.remotes, this.options.topRemotes);
    return inc;
  }

  toJSON(): unknown {
    return {
      // lastSeenMs is derived from the incident: the snapshot keeps its earlier form.
      open: [...this.open.entries()].map(([slot, tracked]) => {
        const { lastSeenMs: _, ...t } = tracked;
        this.settle(tracked);
        return { slot, ...t, remotes: [...t.remotes.entries()] };
      }),
      resolvedUpTo: [...this.resolvedUpTo.entries()],
      counts: this.counts,
    };
  }

  restore(json: unknown): void {
    const j = json as {
      open: (Omit<Tracked, 'remotes' | 'lastSeenMs'> & { slot: string; remotes: [string, number][] })[];
      resolvedUpTo: [string, number][];
      counts: { opened: number; updated: number; resolved: number };
    };
    this.open.clear();
    this.openByKind.clear();
    this.resolvedUpTo.clear();
    for (const { slot, remotes, ...rest } of j.open) {
      const bar = slot.indexOf('|');
      this.track(slot, slot.slice(0, bar) as IncidentKind, slot.slice(bar + 1), { ...rest, lastSeenMs: Date.parse(rest.incident.last_seen), remotes: new Map(remotes) });
    }
    for (const [slot, at] of j.resolvedUpTo) this.resolvedUpTo.set(slot, at);
    Object.assign(this.counts, j.counts);
  }
}

function markOf(inc: Incident, lastActivity: number): Tracked['emitted'] {
  return {
    bytes: inc.evidence.bytes_in + inc.evidence.bytes_out,
    score: inc.score,
    severity: inc.severity,
    hosts: inc.hosts.length,
    hashes: inc.evidence.info_hashes.length,
    users: inc.evidence.users?.length ?? 0,
    lastSeen: lastActivity,
    rule: inc.rule,
  };
}

function union(a: string[], b: string[], limit = MAX_LIST): string[] {
  if (b.every((x) => a.includes(x))) return a;
  return [...new Set([...a, ...b])].sort().slice(0, limit);
}

/** The `n` labels with the most bytes, ties by label: a selection, the tally is not sorted. */
function topLabels(tally: Map<string, number>, n: number): string[] {
  const labels: string[] = [];
  const bytes: number[] = [];
  for (const [label, b] of tally) {
    let at = labels.length;
    while (at > 0 && (bytes[at - 1]! < b || (bytes[at - 1] === b && label < labels[at - 1]!))) at--;
    if (at >= n) continue;
    labels.splice(at, 0, label);
    bytes.splice(at, 0, b);
    if (labels.length > n) {
      labels.pop();
      bytes.pop();
    }
  }
  return labels;
}

/**
 * A deep copy of an incident for a change: the book keeps updating its own. Spreads keep the key
 * order, so JSON is the same. Every array and object inside an incident is copied here: a new
 * nested field needs its line.
 */
function copyOf(inc: Incident): Incident {
  const ev = inc.evidence;
  const evidence: IncidentEvidence = {
    ...ev,
    info_hashes: ev.info_hashes.slice(),
    remotes: ev.remotes.slice(),
    signals: ev.signals.map((s) => ({ ...s })),
  };
  if (ev.users) evidence.users = ev.users.slice();
  return { ...inc, hosts: inc.hosts.slice(), evidence };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
