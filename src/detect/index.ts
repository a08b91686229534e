import type { Registry } from 'prom-client';
import { median, medianAbsoluteDeviation } from 'simple-statistics';
import type { Logger } from '../telemetry/logger.js';
import type { FlowRecord } from '../record.js';
import type { IncidentChange } from '../incidents/types.js';
import { IncidentBook, type Finding } from '../incidents/lifecycle.js';
import { SwarmIndex, noteSourceAddress, sourceKey, type SwarmContext, type SwarmRule } from '../incidents/swarm.js';
import { parseIPv4 } from '../util/ip.js';
import type { DetectConfig, DetectionRules } from './config.js';
import type { DetectionEngine } from './types.js';
import { HostState, featureContext, featuresScratch, type FeatureContext, type Features, type Population } from './features.js';
import { ObjectIndex } from './objects.js';
import { hasCurrentSignal, scoreRule, severityFor, sustainRule, type RuleShape, type Scored } from './scoring.js';
import { SNAPSHOT_VERSION, decodeHost, encodeHost, readSnapshotLines, snapshotPath, writeAtomically } from './snapshot.js';
import { detectMetrics, type DetectMetrics } from './metrics.js';

export interface DetectionDeps {
  config: DetectConfig;
  rules: DetectionRules;
  logger: Logger;
  registry: Registry;
  /** Where the state snapshot lives; undefined keeps state in memory only. */
  stateDir?: string;
}

const LARGE_OBJECT_KINDS = new Set(['media', 'archive', 'disk_image']);

export function createDetectionEngine(deps: DetectionDeps): DetectionEngine & EngineIntrospection {
  return new Engine(deps);
}

/** Read-only views for tests, benchmarks and the metrics gauges. */
export interface EngineIntrospection {
  readonly trackedHosts: number;
  estimateStateBytes(): number;
  /** Features of one host as the rules would see them now (undefined when not tracked). */
  featuresOf(host: string): Features | undefined;
}

class Engine implements DetectionEngine, EngineIntrospection {
  private readonly ctx: FeatureContext;
  private readonly rules: DetectionRules;
  private readonly hosts = new Map<string, HostState>();
  /**
   * Hosts with an open short window, in the order they opened it. An entry whose state's
   * `queuePos` is not its index is stale (evicted, or re-queued further on): an array, not a
   * Set, so the per-minute churn of thousands of hosts allocates nothing.
   */
  private readonly dirty: HostState[] = [];
  private readonly objects: ObjectIndex;
  private readonly swarm: SwarmIndex;
  private readonly book: IncidentBook;
  private readonly metrics: DetectMetrics;
  private readonly pending: Finding[] = [];
  private watermark = -Infinity;
  private shortIndex = -1;
  private mediumIndex = -1;
  private population: Population | null = null;
  private readonly recordCounts = { egress: 0, approved: 0, skipped: 0 };
  private lastInfoHash = '';

  constructor(private readonly deps: DetectionDeps) {
    this.rules = deps.rules;
    this.ctx = featureContext(deps.config, deps.rules);
    this.objects = new ObjectIndex(deps.config.max_object_keys, this.ctx.longMs);
    this.swarm = new SwarmIndex(deps.config.max_swarm_keys);
    this.swarm.minSharedPeers = deps.rules.rules.swarm.min_shared_peers;
    const lifecycle = deps.rules.lifecycle;
    this.book = new IncidentBook({
      quietPeriodMs: lifecycle.quiet_period,
      updateGrowth: lifecycle.update_growth,
      updateScoreDelta: lifecycle.update_score_delta,
      updateIntervalMs: lifecycle.update_interval,
      topRemotes: lifecycle.top_remotes,
      idWindowMs: this.ctx.shortMs,
      severity: (score) => severityFor(score, deps.rules.severity),
    });
    this.metrics = detectMetrics(deps.registry);
    const swarmRule = swarmShape(deps.rules.rules.swarm);
    this.swarmContext = {
      longMs: this.ctx.longMs,
      hasBulkIncident: (host) => this.book.activeSince('bulk_acquisition', host, this.watermark - this.ctx.longMs),
      usersOf: (host) => [...(this.hosts.get(host)?.users ?? [])],
      score: (features) => scoreRule(swarmRule, features),
    };
  }

  get trackedHosts(): number {
    return this.hosts.size;
  }

  async open(): Promise<void> {
    if (!this.snapshotEnabled()) return;
    const path = snapshotPath(this.deps.stateDir!);
    const logger = this.deps.logger;
    const lines = readSnapshotLines(path);
    let json: Record<string, unknown>;
    try {
      const first = await lines.next();
      if (first.done) return;
      json = JSON.parse(first.value) as Record<string, unknown>;
    } catch (err) {
      logger.warn({ err, path }, 'detection snapshot unreadable; starting with empty state');
      await lines.return(undefined);
      return;
    }
    if (json.version !== SNAPSHOT_VERSION) {
      logger.warn({ path, version: json.version }, 'detection snapshot of another version; starting with empty state');
      await lines.return(undefined);
      return;
    }
    const windows = json.windows as number[];
    if (windows[0] !== this.ctx.shortMs || windows[1] !== this.ctx.mediumMs || windows[2] !== this.ctx.longMs) {
      logger.warn({ path }, 'detection windows changed since the snapshot; host features start empty, incidents kept');
      await lines.return(undefined);
    } else {
      // The swarm index first: restored hosts link their sources to its members.
      this.objects.restore(json.objects);
      this.swarm.restore(json.swarm);
      // One host per line: restoring never holds the whole file in memory.
      let broken = 0;
      try {
        for await (const line of lines) {
          let state: HostState | undefined;
          try {
            state = decodeHost(JSON.parse(line), this.ctx, (key, host) => this.swarm.existingSourceMember(key, host));
          } catch {
            state = undefined;
          }
          if (state) this.hosts.set(state.host, state);
          else broken++;
        }
      } catch (err) {
        logger.warn({ err, path }, 'detection snapshot read failed part-way; keeping the hosts read so far');
      }
      if (broken > 0) logger.warn({ path, broken }, 'detection snapshot: unreadable host entries skipped');
    }
    this.book.restore(json.book);
    this.watermark = json.shortIndex === -1 ? -Infinity : (json.watermark as number);
    this.shortIndex = json.shortIndex as number;
    this.mediumIndex = json.mediumIndex as number;
    this.population = (json.population as Population | null) ?? null;
    for (const state of this.hosts.values()) {
      state.queuePos = -1;
      if (state.short >= 0) this.queueDirty(state);
    }
    this.updateGauges(true);
    logger.info({ path, hosts: this.hosts.size, open: this.book.openCount }, 'detection state restored');
  }

  async save(): Promise<void> {
    if (!this.snapshotEnabled()) return;
    writeAtomically(snapshotPath(this.deps.stateDir!), this.snapshotParts());
  }

  private *snapshotParts(): Generator<string> {
    yield `{"version":${SNAPSHOT_VERSION},"windows":${JSON.stringify([this.ctx.shortMs, this.ctx.mediumMs, this.ctx.longMs])}`;
    yield `,"watermark":${Number.isFinite(this.watermark) ? this.watermark : -1},"shortIndex":${this.shortIndex},"mediumIndex":${this.mediumIndex}`;
    yield `,"population":${JSON.stringify(this.population)}`;
    yield `,"book":${JSON.stringify(this.book.toJSON())}`;
    yield `,"swarm":${JSON.stringify(this.swarm.toJSON())}`;
    yield `,"objects":${JSON.stringify(this.objects.toJSON())}}\n`;
    for (const state of this.hosts.values()) yield `${encodeHost(state)}\n`;
  }

  private snapshotEnabled(): boolean {
    return this.deps.stateDir !== undefined && this.deps.config.snapshot.enabled;
  }

  observe(rec: FlowRecord): void {
    const hostName = rec.host;
    const remote = rec.remote;
    const ts = rec.ts;
    if (!hostName || !remote || !Number.isFinite(ts)) {
      this.recordCounts.skipped++;
      return;
    }
    const ctx = this.ctx;
    let state = this.hosts.get(hostName);
    if (!state) {
      if (this.hosts.size >= this.deps.config.max_hosts) this.evictLeastRecent();
      state = new HostState(hostName, ctx);
      this.hosts.set(hostName, state);
    }
    const short = Math.floor(ts / ctx.shortMs);
    if (state.short >= 0 && short > state.short) this.closeShort(state);
    if (state.short < 0) {
      state.short = short;
      this.queueDirty(state);
    }
    const approval = rec.approval;
    const approved = approval !== null && approval !== undefined && !approval.expired;
    if (approved) this.recordCounts.approved++;
    else this.recordCounts.egress++;
    const source = state.observe(rec, ctx, approved);
    if (approved) return;

    const remotes = state.remotes;
    if (source >= 0 && !remotes.linkOf(source) && remotes.sourceBytesIn(source) >= this.rules.rules.swarm.min_bytes_per_host) {
      const label = remote.name ?? (remote.ip || '');
      const key = sourceKey(label);
      const member = this.swarm.sourceMember(key, hostName, ts);
      member.bytes += remotes.sourceBytesIn(source);
      noteSourceAddress(member, parseIPv4(label));
      remotes.link(source, { key, member });
    }
    // Flow-only BitTorrent (no info hash seen): hosts sharing remote peers are one swarm.
    if (state.lastWasP2p && !state.infoHashes && this.book.hasOpen('bittorrent', hostName)) this.swarm.notePeer(remote.ip || (remote.name ?? ''), hostName, ts, rec.bytesIn + rec.bytesOut);
    const app = rec.app;
    if (app && app.name === 'bittorrent') {
      // The flow's list when it has one, else its hash: no array per record.
      if (app.infoHashes) for (const h of app.infoHashes) this.swarm.noteInfoHash(this.reusedCopy(h), hostName, ts, rec.bytesIn + rec.bytesOut);
      else if (app.infoHash) this.swarm.noteInfoHash(this.reusedCopy(app.infoHash), hostName, ts, rec.bytesIn + rec.bytesOut);
    }
    const object = rec.object;
    if (object && LARGE_OBJECT_KINDS.has(object.kind) && rec.bytesIn >= ctx.largeObjectBytes) {
      const sharing = this.objects.fetched(object.key, hostName, ts);
      if (sharing.length > 0) {
        for (const h of sharing) this.hosts.get(h)?.noteSharedObject();
        this.swarm.noteSharedObject(sourceKey(objectHost(object.key) ?? remote.name ?? remote.ip), sharing, ts);
      }
    }
  }

  /**
   * The info hash handed to the swarm index last when `hash` equals it: each flow carries its own
   * copy of the text, and handing the index one copy lets its map reuse the hash code it computed.
   */
  private reusedCopy(hash: string): string {
    if (hash === this.lastInfoHash) return this.lastInfoHash;
    this.lastInfoHash = hash;
    return hash;
  }

  advance(nowMs: number): IncidentChange[] {
    if (Number.isFinite(nowMs) && nowMs > this.watermark) this.watermark = nowMs;
    if (!Number.isFinite(this.watermark)) return [];
    const ctx = this.ctx;
    const short = Math.floor(this.watermark / ctx.shortMs);
    let boundary = false;
    if (short > this.shortIndex) {
      boundary = true;
      const dirty = this.dirty;
      let kept = 0;
      for (let i = 0; i < dirty.length; i++) {
        const state = dirty[i]!;
        if (state.queuePos !== i) continue;
        if (state.short < short) {
          state.queuePos = -1;
          this.closeShort(state);
        } else {
          state.queuePos = kept;
          dirty[kept++] = state;
        }
      }
      dirty.length = kept;
      this.shortIndex = short;
    }
    const medium = Math.floor(this.watermark / ctx.mediumMs);
    const mediumBoundary = medium > this.mediumIndex;
    if (mediumBoundary) {
      if (this.mediumIndex >= 0) this.closeMediumGlobally();
      this.mediumIndex = medium;
    }
    const changes = this.applyFindings(boundary);
    this.updateGauges(mediumBoundary);
    return changes;
  }

  flush(): IncidentChange[] {
    const dirty = this.dirty;
    for (let i = 0; i < dirty.length; i++) {
      const state = dirty[i]!;
      if (state.queuePos !== i) continue;
      state.queuePos = -1;
      this.closeShort(state);
    }
    dirty.length = 0;
    const changes = this.applyFindings(true);
    this.updateGauges(true);
    return changes;
  }

  private applyFindings(evaluateSwarms: boolean): IncidentChange[] {
    const changes: IncidentChange[] = [];
    // One labelled increment per kind and call, not one per finding.
    const findings = new Map<Finding['kind'], number>();
    const push = (f: Finding): void => {
      findings.set(f.kind, (findings.get(f.kind) ?? 0) + 1);
      const change = this.book.apply(f, this.watermark);
      if (change) changes.push(change);
    };
    for (const f of this.pending) push(f);
    this.pending.length = 0;
    if (evaluateSwarms && Number.isFinite(this.watermark)) {
      for (const f of this.swarm.evaluate(this.watermark, this.rules.rules.swarm as SwarmRule, this.swarmContext)) push(f);
    }
    for (const [kind, n] of findings) this.metrics.findings.inc({ kind }, n);
    if (Number.isFinite(this.watermark)) changes.push(...this.book.sweep(this.watermark));
    for (const c of changes) this.metrics.incidents.inc({ kind: c.incident.kind, severity: c.incident.severity, change: c.change });
    return changes;
  }

  private readonly swarmContext: SwarmContext;
  /** Filled by every evaluation and read before the next: scores copy what they keep. */
  private readonly scratchFeatures: Features = featuresScratch();

  /** The short window of `state` closed: read its features and score the per-host rules. */
  private closeShort(state: HostState): void {
    if (!state.sActive && state.sBtEvidence === 0) {
      state.closeShort();
      return;
    }
    const features = state.features(this.ctx, this.population, this.scratchFeatures);
    const rules = this.rules.rules;
    const host = state.host;

    // BitTorrent: protocol evidence first, flow pattern when no DPI saw the flows.
    let bt: Scored | undefined;
    let approvedSource: string | null = null;
    let downgraded = false;
    const unapprovedEvidence = features.bt_evidence! - (this.ctx.btApprovedMode === 'downgrade' ? features.bt_approved! : 0);
    if (features.bt_evidence! > 0) {
      bt = scoreRule(rules.bittorrent, features);
      if (bt && unapprovedEvidence <= 0) {
        approvedSource = state.btApprovalName;
        downgraded = true;
      }
    }
    let p2p = scoreRule(rules.p2p_flows, features);
    if (!p2p && !bt && this.book.hasOpen('bittorrent', host)) p2p = sustainRule(rules.p2p_flows, features);
    if (p2p && (!bt || p2p.score > bt.score) && !downgraded) bt = p2p;
    if (bt) {
      const viaProtocol = bt.rule.startsWith(`${rules.bittorrent.id}@`);
      const finding = this.hostFinding(state, features, 'bittorrent', bt, {
        episodeStart: viaProtocol ? state.btEpisodeStart : state.episodeStart,
        activityTs: viaProtocol ? state.lastBtTs : state.lastUnapprovedTs,
        infoHashes: [...(state.infoHashes ?? [])],
        approvedSource,
      });
      if (downgraded) finding.severity = 'low';
      this.pending.push(finding);
    } else if (!this.book.activeSince('bittorrent', host, state.lastSeen - this.ctx.longMs)) {
      // A BitTorrent host's volume is the same activity, also while its long window still
      // remembers it after the BitTorrent incident resolved: one incident, not two.
      // Opening needs a short- or medium-window signal: evidence the long window merely
      // remembers (yesterday's download, then ordinary browsing) is not a new acquisition.
      const open = this.book.hasOpen('bulk_acquisition', host);
      let bulk = scoreRule(rules.bulk_acquisition, features);
      if (bulk && !open && !hasCurrentSignal(bulk)) bulk = undefined;
      if (!bulk && open) bulk = sustainRule(rules.bulk_acquisition, features);
      if (bulk) {
        this.pending.push(
          this.hostFinding(state, features, 'bulk_acquisition', bulk, {
            episodeStart: Math.max(state.episodeStart, state.lastUnapprovedTs - this.ctx.longMs),
            activityTs: state.lastUnapprovedTs,
            infoHashes: [],
            approvedSource: null,
          }),
        );
      }
    }
    state.closeShort();
  }

  private queueDirty(state: HostState): void {
    state.queuePos = this.dirty.length;
    this.dirty.push(state);
  }

  /** A per-host finding: what the rule scored, and the host's evidence as the incident keeps it. */
  private hostFinding(
    state: HostState,
    features: Features,
    kind: 'bittorrent' | 'bulk_acquisition',
    scored: Scored,
    activity: Pick<Finding, 'episodeStart' | 'activityTs' | 'infoHashes' | 'approvedSource'>,
  ): Finding {
    // Built field by field, without spreads: a BitTorrent host yields one every short window.
    const host = state.host;
    const finding: Finding = {
      kind,
      key: host,
      rule: scored.rule,
      hosts: [host],
      score: scored.score,
      signals: withExpiredSignal(scored, state),
      episodeStart: activity.episodeStart,
      activityTs: activity.activityTs,
      evaluatedAt: (state.short + 1) * this.ctx.shortMs,
      bytesIn: features.bytes_in_24h!,
      bytesOut: features.bytes_out_24h!,
      totalIn: state.totalIn,
      totalOut: state.totalOut,
      peers: features.peers_24h!,
      infoHashes: activity.infoHashes,
      remotes: state.topRemotes(this.rules.lifecycle.top_remotes),
      users: state.users ? [...state.users].sort() : [],
      approvedSource: activity.approvedSource,
    };
    const expired = state.expiredApprovals?.values().next().value;
    if (expired) finding.approvalExpired = expired;
    return finding;
  }

  /** Medium boundary: population statistics, idle expiry, bounded indexes. */
  private closeMediumGlobally(): void {
    const ended = this.mediumIndex;
    const values: number[] = [];
    for (const state of this.hosts.values()) if (state.medium === ended && state.mBytesIn > 0) values.push(state.mBytesIn);
    const minHosts = this.rules.features.population_min_hosts;
    this.population = values.length >= minHosts ? { median: median(values), mad: medianAbsoluteDeviation(values), hosts: values.length } : null;
    const idleBefore = this.watermark - this.deps.config.host_idle_ttl;
    for (const [name, state] of this.hosts) {
      if (state.lastSeen >= idleBefore || state.short >= 0) continue;
      this.hosts.delete(name);
      this.metrics.evicted.inc({ reason: 'idle' });
    }
    this.objects.expire(this.watermark);
  }

  /** At capacity: drop the least recently active tenth at once (amortised, no per-record LRU upkeep). */
  private evictLeastRecent(): void {
    const states = [...this.hosts.values()].sort((a, b) => a.lastSeen - b.lastSeen || (a.host < b.host ? -1 : 1));
    const drop = Math.max(1, Math.floor(states.length / 10));
    for (let i = 0; i < drop; i++) {
      const state = states[i]!;
      this.hosts.delete(state.host);
      state.queuePos = -1;
    }
    this.metrics.evicted.inc({ reason: 'capacity' }, drop);
  }

  estimateStateBytes(): number {
    let bytes = 0;
    for (const state of this.hosts.values()) bytes += state.byteSize();
    return bytes + this.objects.size * 200 + this.swarm.size * 300;
  }

  featuresOf(host: string): Features | undefined {
    return this.hosts.get(host)?.features(this.ctx, this.population);
  }

  private updateGauges(full: boolean): void {
    const m = this.metrics;
    m.trackedHosts.set(this.hosts.size);
    m.openIncidents.set(this.book.openCount);
    m.swarmKeys.set(this.swarm.size);
    m.objectKeys.set(this.objects.size);
    const c = this.recordCounts;
    if (c.egress) m.records.inc({ class: 'unapproved' }, c.egress);
    if (c.approved) m.records.inc({ class: 'approved' }, c.approved);
    if (c.skipped) m.records.inc({ class: 'skipped' }, c.skipped);
    c.egress = c.approved = c.skipped = 0;
    if (full) m.stateBytes.set(this.estimateStateBytes());
  }
}

function swarmShape(rule: DetectionRules['rules']['swarm']): RuleShape {
  return { id: rule.id, rev: rule.rev, min_score: rule.min_score, min_fired: 1, require_groups: [['hosts']], signals: rule.signals };
}

function withExpiredSignal(scored: Scored, state: HostState): Scored['signals'] {
  if (!state.expiredApprovals || state.expiredApprovals.size === 0) return scored.signals;
  return [...scored.signals, { name: 'approval_expired', value: 1, threshold: 1, weight: 0 }];
}

function objectHost(key: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/:?#]+)/i.exec(key);
  return m?.[1];
}
