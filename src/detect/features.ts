import type { FlowRecord } from '../record.js';
import type { DetectConfig, DetectionRules } from './config.js';
import { HyperLogLog, TYPED_ARRAY_OVERHEAD, hashString, mix32 } from './hll.js';
import { RemoteTable } from './remotes.js';
import { noteSourceAddress } from '../incidents/swarm.js';

// Per-host features over event-time windows: a short window (evaluated when it closes), a
// medium window (running totals) and a long window (a ring of medium windows plus two
// half-window sketches for distinct counts). All state is bounded per host.

/** Everything derived from config and rules that the hot path needs, resolved once. */
export interface FeatureContext {
  shortMs: number;
  mediumMs: number;
  longMs: number;
  /** Medium windows per long window. */
  slots: number;
  precision: number;
  maxRemotes: number;
  heavyPeerBytes: number;
  largeObjectBytes: number;
  largeTransferBytes: number;
  dutyMinBytes: number;
  sustainedMinBytes: number;
  sustainedHourShorts: number;
  /** Short windows per medium window. */
  shortsPerMedium: number;
  dutyMinDownloads: number;
  regularityMinSamples: number;
  baselineWarmup: number;
  baselineAlpha: number;
  baselineFloor: number;
  weakPorts: Set<number>;
  servicePorts: Set<number>;
  /** Bytes from one source in a medium window that make a host count toward a shared-source swarm. */
  sourceMinBytes: number;
  btApprovedMode: 'suppress' | 'downgrade';
}

export function featureContext(config: DetectConfig, rules: DetectionRules): FeatureContext {
  const f = rules.features;
  return {
    shortMs: config.windows.short,
    mediumMs: config.windows.medium,
    longMs: config.windows.long,
    slots: Math.round(config.windows.long / config.windows.medium),
    precision: config.hll_precision,
    maxRemotes: config.max_remotes_per_host,
    heavyPeerBytes: f.heavy_peer_bytes,
    largeObjectBytes: f.large_object_bytes,
    largeTransferBytes: f.large_transfer_bytes,
    dutyMinBytes: f.duty_min_bytes,
    sustainedMinBytes: f.sustained_min_bytes,
    sustainedHourShorts: f.sustained_hour_minutes,
    shortsPerMedium: Math.round(config.windows.medium / config.windows.short),
    dutyMinDownloads: f.duty_min_downloads,
    regularityMinSamples: f.regularity_min_samples,
    baselineWarmup: f.baseline_warmup,
    baselineAlpha: f.baseline_alpha,
    baselineFloor: f.baseline_floor_bytes,
    weakPorts: new Set(f.bt_weak_ports),
    servicePorts: new Set(f.service_ports),
    sourceMinBytes: rules.rules.swarm.min_bytes_per_host,
    btApprovedMode: rules.approvals.bittorrent,
  };
}

// Long-window ring: one row of these per medium window.
const R_BYTES_IN = 0;
const R_BYTES_OUT = 1;
const R_BT_EVIDENCE = 2;
const R_BT_APPROVED = 3;
const R_SHARED = 4;
const R_ACTIVE = 5;
const R_APPROVED_IN = 6;
const R_SUSTAINED = 7;
export const RING_WIDTH = 8;
/** Scratch for ringSums(): features are read synchronously, one host at a time. */
const RING_SUMS = new Float64Array(RING_WIDTH);

const LARGE_KINDS = new Set(['media', 'archive', 'disk_image']);
const MAX_SMALL_SET = 64;

/** Population statistics of medium-window unapproved bytes, set at each medium boundary. */
export interface Population {
  median: number;
  mad: number;
  hosts: number;
}

/**
 * Zero stored as a double (-0 is no small integer): a field that starts as a small integer and
 * later holds a fraction changes representation in the middle of a replay, and V8 then drops the
 * optimized code of every function reading that object.
 */
const DOUBLE_ZERO = -0;

/** No population statistics yet, with the fields of real ones (the same shape, doubles where they are). */
const NO_POPULATION: Population = { median: DOUBLE_ZERO, mad: DOUBLE_ZERO, hosts: 0 };

/** What the rules see for one host at one evaluation. */
export type Features = Record<string, number>;

/** The features in the order HostState.features sets them. */
const FEATURE_NAMES = [
  'bytes_in_1m',
  'bytes_in_1h',
  'bytes_in_24h',
  'bytes_out_24h',
  'peers_1m',
  'peers_1h',
  'peers_24h',
  'heavy_peers_1h',
  'p2p_peers_1h',
  'p2p_ports_1h',
  'bt_port_peers_1h',
  'bt_evidence',
  'bt_approved',
  'info_hashes',
  'duty_24h',
  'active_minutes_1h',
  'sustained_minutes_1h',
  'sustained_hours_24h',
  'regularity_1h',
  'downloads_1h',
  'large_transfers_1h',
  'objects_1m',
  'objects_1h',
  'objects_24h',
  'large_objects_1h',
  'sequential_1h',
  'shared_objects_24h',
  'volume_vs_baseline',
  'volume_z',
  'approved_share',
] as const;

/**
 * A features object to fill again and again (HostState.features `into`), its fields doubles from
 * the start (see DOUBLE_ZERO): the scoring reads it above all.
 */
export function featuresScratch(): Features {
  const f: Features = {};
  for (const name of FEATURE_NAMES) f[name] = DOUBLE_ZERO;
  return f;
}

export class HostState {
  readonly host: string;
  lastSeen = 0;
  /** Index in the engine's queue of hosts with an open short window, or -1. */
  queuePos = -1;

  // Short window.
  short = -1;
  sBytesIn = 0;
  sDownloads = 0;
  sActive = false;
  sBtEvidence = 0;
  readonly sPeers: HyperLogLog;
  sObjects: HyperLogLog | null = null;

  // Medium window (the running one).
  medium = -1;
  mBytesIn = 0;
  mBytesInAll = 0;
  mBytesOut = 0;
  mApprovedIn = 0;
  mDownloads = 0;
  mLargeTransfers = 0;
  mActiveShort = 0;
  mLargeObjects = 0;
  mSequential = 0;
  mShared = 0;
  mBtEvidence = 0;
  mBtApproved = 0;
  mDutyMarked = false;
  readonly mPeers: HyperLogLog;
  /** Port-pattern sketches, allocated on the first matching flow: most hosts never need them. */
  mP2pPeers: HyperLogLog | null = null;
  mP2pPorts: HyperLogLog | null = null;
  mBtPortPeers: HyperLogLog | null = null;
  mObjects: HyperLogLog | null = null;
  gapCount = 0;
  gapMean = 0;
  gapM2 = 0;
  lastDownloadTs = -Infinity;
  previousRegularity = 0;
  /** Bytes by remote and by source in the running medium window. */
  remotes = new RemoteTable();
  heavyPeers = 0;
  /** The record just observed looked peer-to-peer (unprivileged ports both sides, not a service). */
  lastWasP2p = false;

  // Long window.
  /**
   * One buffer per host (each typed array costs far more than its payload): the long-window
   * ring, one row per medium window, rows of windows outside the long window zeroed; then the
   * unapproved bytes downloaded per short window of the running medium window, flows spread
   * over their span. Allocated on the first download or medium close.
   */
  ring: Float32Array | null = null;
  block = -1;
  /** Distinct values of the current half of the long window... */
  peersCurrent: HyperLogLog;
  /** ...and of the previous half plus the current one: read without merging. */
  peersLong: HyperLogLog;
  objectsCurrent: HyperLogLog | null = null;
  objectsLong: HyperLogLog | null = null;

  // Baseline (EWMA of medium-window unapproved bytes).
  ewma = DOUBLE_ZERO;
  baselineWindows = 0;

  // Identity and protocol evidence.
  infoHashes: Set<string> | null = null;
  /** The info hash noted last (outside the snapshot, which restores the set it summarises). */
  #lastInfoHash: string | undefined = undefined;
  btApprovalName: string | null = null;
  users: Set<string> | null = null;
  expiredApprovals: Set<string> | null = null;
  sequences: Map<string, number> | null = null;
  lastUnapprovedTs = -Infinity;
  episodeStart = 0;
  lastBtTs = -Infinity;
  btEpisodeStart = 0;
  /** Monotonic unapproved totals: incidents grow their evidence from these. */
  totalIn = 0;
  totalOut = 0;

  constructor(host: string, ctx: FeatureContext) {
    this.host = host;
    const p = ctx.precision;
    this.sPeers = new HyperLogLog(p);
    this.mPeers = new HyperLogLog(p);
    this.peersCurrent = new HyperLogLog(p);
    this.peersLong = new HyperLogLog(p);
  }

  /** Roll the medium window and the long-window blocks forward to the record's time. */
  private roll(ts: number, ctx: FeatureContext): void {
    const medium = Math.floor(ts / ctx.mediumMs);
    if (this.medium < 0) this.medium = medium;
    else if (medium > this.medium) this.closeMedium(medium, ctx);
    const block = Math.floor(ts / (ctx.longMs / 2));
    if (block > this.block) {
      if (this.block >= 0 && block === this.block + 1) {
        // The long window now spans the half that just ended and the new one: the union so
        // far is exactly the ended half; the recycled sketch starts the new half.
        const recycled = this.peersLong;
        this.peersLong = this.peersCurrent;
        recycled.clear();
        this.peersCurrent = recycled;
        if (this.objectsCurrent) {
          const o = this.objectsLong ?? new HyperLogLog(ctx.precision);
          o.clear();
          this.objectsLong = this.objectsCurrent;
          this.objectsCurrent = o;
        }
      } else {
        this.peersCurrent.clear();
        this.peersLong.clear();
        this.objectsCurrent?.clear();
        this.objectsLong?.clear();
      }
      this.block = block;
    }
  }

  /**
   * Add one enriched egress record. `approved` is true when a non-expired approval covers it.
   * Returns the slot of the source it counted toward in `remotes` (for swarm correlation), or -1.
   */
  observe(rec: FlowRecord, ctx: FeatureContext, approved: boolean): number {
    const ts = rec.ts;
    if (ts > this.lastSeen) this.lastSeen = ts;
    this.roll(ts, ctx);
    const bytesIn = rec.bytesIn > 0 ? rec.bytesIn : 0;
    const bytesOut = rec.bytesOut > 0 ? rec.bytesOut : 0;
    const app = rec.app;
    const bt = app !== undefined && app.name === 'bittorrent';

    if (approved) {
      if (bt) {
        // Approved torrents are not evidence; `downgrade` keeps them visible at low severity.
        this.mBtApproved++;
        this.btApprovalName = rec.approval!.name;
        if (ctx.btApprovedMode === 'downgrade') this.noteBtActivity(ts, ctx);
      }
      this.mApprovedIn += bytesIn;
      return -1;
    }
    if (rec.approval?.expired) {
      this.expiredApprovals ??= new Set();
      if (this.expiredApprovals.size < 4) this.expiredApprovals.add(rec.approval.name);
    }

    const remote = rec.remote!;
    const duration = rec.tsEnd > ts ? rec.tsEnd - ts : 0;
    // Long flows count at their rate in the short and medium windows, in full over the long one.
    const shortShare = duration > ctx.shortMs ? ctx.shortMs / duration : 1;
    const mediumShare = duration > ctx.mediumMs ? ctx.mediumMs / duration : 1;
    this.sBytesIn += bytesIn * shortShare;
    this.mBytesIn += bytesIn * mediumShare;
    this.mBytesInAll += bytesIn;
    this.mBytesOut += bytesOut;
    this.totalIn += bytesIn;
    this.totalOut += bytesOut;
    this.sActive = true;

    if (ts - this.lastUnapprovedTs > ctx.mediumMs || this.lastUnapprovedTs === -Infinity) this.episodeStart = ts;
    if (ts > this.lastUnapprovedTs) this.lastUnapprovedTs = ts;

    // Proxy logs without the server address name the remote only by host name.
    const peer = remote.ip !== '' ? remote.ip : (remote.name ?? '');
    const ipHash = hashString(peer);
    this.sPeers.addHash(ipHash);
    this.mPeers.addHash(ipHash);
    this.peersCurrent.addHash(ipHash);
    this.peersLong.addHash(ipHash);

    if (bytesIn > 0) {
      this.spreadDownload(ts, duration, bytesIn, ctx);
      // One direction of a uni-flow pair carries the download; only downloads time the host.
      this.sDownloads++;
      this.mDownloads++;
      if (bytesIn >= ctx.largeTransferBytes) this.mLargeTransfers++;
      if (ts >= this.lastDownloadTs) {
        if (this.lastDownloadTs !== -Infinity) {
          const gap = ts - this.lastDownloadTs;
          this.gapCount++;
          const delta = gap - this.gapMean;
          this.gapMean += delta / this.gapCount;
          this.gapM2 += delta * (gap - this.gapMean);
        }
        this.lastDownloadTs = ts;
      }
    }
    if (!this.mDutyMarked && (this.mBytesInAll >= ctx.dutyMinBytes || this.mDownloads >= ctx.dutyMinDownloads)) this.mDutyMarked = true;

    const hostPort = rec.host === rec.src ? rec.srcPort : rec.dstPort;
    this.lastWasP2p = false;
    const onWeakPort = ctx.weakPorts.has(remote.port) || ctx.weakPorts.has(hostPort);
    if (onWeakPort) (this.mBtPortPeers ??= new HyperLogLog(Math.min(ctx.precision, 10))).addHash(ipHash);
    else if (remote.port >= 1024 && hostPort >= 1024 && !ctx.servicePorts.has(remote.port) && (!app || bt)) {
      (this.mP2pPeers ??= new HyperLogLog(ctx.precision)).addHash(ipHash);
      (this.mP2pPorts ??= new HyperLogLog(Math.min(ctx.precision, 10))).addHash(mix32(remote.port + 1));
      this.lastWasP2p = true;
    }

    if (bt) {
      this.noteBtActivity(ts, ctx);
      // The flow's list when it has one, else its hash: no array per record.
      if (app.infoHashes) for (const h of app.infoHashes) this.noteInfoHash(h);
      else if (app.infoHash) this.noteInfoHash(app.infoHash);
    }
    if (rec.user) {
      this.users ??= new Set();
      if (this.users.size < 16) this.users.add(rec.user);
    }
    if (rec.object) this.observeObject(rec, ctx, bytesIn);

    const remotes = this.remotes;
    const slot = remotes.add(peer, remote.name, bytesIn, bytesOut, ctx.maxRemotes);
    if (slot < 0) return -1;
    // Peers on the weak BitTorrent ports are Delivery Optimization or BitTorrent: their own
    // signals judge them, they are not fan-out of a bulk download.
    if (!onWeakPort && !remotes.isHeavy(slot) && remotes.remoteBytesIn(slot) >= ctx.heavyPeerBytes) {
      remotes.markHeavy(slot);
      this.heavyPeers++;
    }
    // A source can only reach the swarm threshold once the window's bytes have.
    if (!remotes.tracksSources && this.mBytesInAll < ctx.sourceMinBytes) return -1;
    const source = remotes.countSource(slot, bytesIn);
    const swarm = remotes.linkOf(source)?.member;
    if (swarm) {
      swarm.bytes += bytesIn;
      if (ts > swarm.lastTs) swarm.lastTs = ts;
      noteSourceAddress(swarm, remotes.labelV4(slot));
    }
    return source;
  }

  private noteInfoHash(hash: string): void {
    // A torrent's flows repeat its hash: comparing with the last one is cheaper than hashing a new
    // copy of it into the set, whose answer would be the same (the set only grows).
    if (hash === this.#lastInfoHash) return;
    this.#lastInfoHash = hash;
    this.infoHashes ??= new Set();
    if (this.infoHashes.size < MAX_SMALL_SET) this.infoHashes.add(hash);
  }

  /** Spread a download over the short windows its flow covers, inside the running medium window. */
  private spreadDownload(ts: number, duration: number, bytes: number, ctx: FeatureContext): void {
    const perMedium = ctx.shortsPerMedium;
    const ring = this.ringBuffer(ctx);
    const base = ctx.slots * RING_WIDTH;
    const windowStart = this.medium * ctx.mediumMs;
    const first = Math.floor((ts - windowStart) / ctx.shortMs);
    if (duration <= 0) {
      if (first >= 0 && first < perMedium) ring[base + first]! += bytes;
      return;
    }
    const end = ts + duration;
    const last = Math.min(perMedium - 1, Math.floor((end - windowStart) / ctx.shortMs));
    for (let i = Math.max(0, first); i <= last; i++) {
      const from = Math.max(ts, windowStart + i * ctx.shortMs);
      const to = Math.min(end, windowStart + (i + 1) * ctx.shortMs);
      if (to > from) ring[base + i]! += (bytes * (to - from)) / duration;
    }
  }

  private noteBtActivity(ts: number, ctx: FeatureContext): void {
    this.sBtEvidence++;
    this.mBtEvidence++;
    if (ts - this.lastBtTs > ctx.mediumMs || this.lastBtTs === -Infinity) this.btEpisodeStart = ts;
    if (ts > this.lastBtTs) this.lastBtTs = ts;
  }

  private observeObject(rec: FlowRecord, ctx: FeatureContext, bytesIn: number): void {
    const object = rec.object!;
    const h = hashString(object.key);
    this.sObjects ??= new HyperLogLog(ctx.precision);
    this.mObjects ??= new HyperLogLog(ctx.precision);
    this.objectsCurrent ??= new HyperLogLog(ctx.precision);
    this.objectsLong ??= new HyperLogLog(ctx.precision);
    this.sObjects.addHash(h);
    this.mObjects.addHash(h);
    this.objectsCurrent.addHash(h);
    this.objectsLong.addHash(h);
    if (LARGE_KINDS.has(object.kind) && bytesIn >= ctx.largeObjectBytes) this.mLargeObjects++;
    const seq = object.sequence;
    if (seq) {
      this.sequences ??= new Map();
      const previous = this.sequences.get(seq.stem);
      if (previous !== undefined && seq.n !== previous && Math.abs(seq.n - previous) <= 3) this.mSequential++;
      if (previous === undefined && this.sequences.size >= 32) this.sequences.clear();
      this.sequences.set(seq.stem, seq.n);
    }
  }

  /** This host fetched an object other hosts fetched too. */
  noteSharedObject(): void {
    this.mShared++;
  }

  private ringBuffer(ctx: FeatureContext): Float32Array {
    return (this.ring ??= new Float32Array(ctx.slots * RING_WIDTH + ctx.shortsPerMedium));
  }

  /** Close the medium window: push it into the long-window ring and the baseline. */
  closeMedium(next: number, ctx: FeatureContext): void {
    const slot = this.medium % ctx.slots;
    const ring = this.ringBuffer(ctx);
    const row = slot * RING_WIDTH;
    ring[row + R_BYTES_IN] = this.mBytesInAll;
    ring[row + R_BYTES_OUT] = this.mBytesOut;
    ring[row + R_BT_EVIDENCE] = this.mBtEvidence;
    ring[row + R_BT_APPROVED] = this.mBtApproved;
    ring[row + R_SHARED] = this.mShared;
    ring[row + R_ACTIVE] = this.mDutyMarked ? 1 : 0;
    ring[row + R_APPROVED_IN] = this.mApprovedIn;
    ring[row + R_SUSTAINED] = this.sustainedShorts(ctx) >= ctx.sustainedHourShorts ? 1 : 0;
    // Windows skipped while idle hold nothing; once the long window has passed every row is stale.
    const skipped = next - this.medium - 1;
    if (skipped >= ctx.slots - 1) ring.fill(0, 0, ctx.slots * RING_WIDTH);
    else for (let w = this.medium + 1; w < next; w++) ring.fill(0, (w % ctx.slots) * RING_WIDTH, (w % ctx.slots + 1) * RING_WIDTH);

    // Baseline: this window, then the idle windows skipped since, as zeros.
    const alpha = ctx.baselineAlpha;
    this.ewma = this.baselineWindows === 0 ? this.mBytesIn : alpha * this.mBytesIn + (1 - alpha) * this.ewma;
    const idle = Math.min(next - this.medium - 1, 10 * ctx.slots);
    for (let i = 0; i < idle; i++) this.ewma *= 1 - alpha;
    this.baselineWindows += next - this.medium;

    this.previousRegularity = this.gapCount >= ctx.regularityMinSamples ? regularity(this.gapCount, this.gapMean, this.gapM2) : 0;
    this.medium = next;
    this.mBytesIn = this.mBytesInAll = this.mBytesOut = this.mApprovedIn = 0;
    this.mDownloads = this.mLargeTransfers = this.mActiveShort = this.mLargeObjects = this.mSequential = this.mShared = 0;
    this.mBtEvidence = this.mBtApproved = 0;
    this.mDutyMarked = false;
    this.mPeers.clear();
    this.mP2pPeers?.clear();
    this.mP2pPorts?.clear();
    this.mBtPortPeers?.clear();
    this.mObjects?.clear();
    this.gapCount = this.gapMean = this.gapM2 = 0;
    this.lastDownloadTs = -Infinity;
    this.remotes.clear();
    this.heavyPeers = 0;
    ring.fill(0, ctx.slots * RING_WIDTH);
  }

  /** Close the short window (after features were read). */
  closeShort(): void {
    if (this.sActive) this.mActiveShort++;
    this.short = -1;
    this.sBytesIn = 0;
    this.sDownloads = 0;
    this.sActive = false;
    this.sBtEvidence = 0;
    this.sPeers.clear();
    this.sObjects?.clear();
  }

  private sustainedShorts(ctx: FeatureContext): number {
    let n = 0;
    const ring = this.ring;
    if (!ring) return 0;
    for (let i = ctx.slots * RING_WIDTH; i < ring.length; i++) if (ring[i]! >= ctx.sustainedMinBytes) n++;
    return n;
  }

  /** Column sums of the completed medium windows still inside the long window. */
  private ringSums(ctx: FeatureContext): Float64Array {
    const sums = RING_SUMS;
    const ring = this.ring;
    if (!ring) return sums.fill(0);
    // One pass over the rows with the eight running sums in locals (read at every evaluation).
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    // The running window's row still holds the window one long window ago: outside.
    const running = this.medium % ctx.slots;
    for (let s = 0; s < ctx.slots; s++) {
      if (s === running) continue;
      const row = s * RING_WIDTH;
      s0 += ring[row]!;
      s1 += ring[row + 1]!;
      s2 += ring[row + 2]!;
      s3 += ring[row + 3]!;
      s4 += ring[row + 4]!;
      s5 += ring[row + 5]!;
      s6 += ring[row + 6]!;
      s7 += ring[row + 7]!;
    }
    sums[0] = s0;
    sums[1] = s1;
    sums[2] = s2;
    sums[3] = s3;
    sums[4] = s4;
    sums[5] = s5;
    sums[6] = s6;
    sums[7] = s7;
    return sums;
  }

  /**
   * The features every rule reads, at event time `now`. With `into`, fills that object instead
   * of a new one (the engine reuses one per evaluation: no garbage on the hot path).
   */
  features(ctx: FeatureContext, population: Population | null, into?: Features): Features {
    const activeMinutes = this.mActiveShort + (this.sActive ? 1 : 0);
    const sustained = this.sustainedShorts(ctx);
    const reg = this.gapCount >= ctx.regularityMinSamples ? regularity(this.gapCount, this.gapMean, this.gapM2) : this.previousRegularity;
    const ring = this.ringSums(ctx);
    const bytesIn24 = ring[R_BYTES_IN]! + this.mBytesInAll;
    const approvedIn24 = ring[R_APPROVED_IN]! + this.mApprovedIn;
    const baselineReady = this.baselineWindows >= ctx.baselineWarmup;
    const f: Features = into ?? {};
    f.bytes_in_1m = this.sBytesIn;
    f.bytes_in_1h = this.mBytesIn;
    f.bytes_in_24h = bytesIn24;
    f.bytes_out_24h = ring[R_BYTES_OUT]! + this.mBytesOut;
    f.peers_1m = this.sPeers.count();
    f.peers_1h = this.mPeers.count();
    f.peers_24h = this.peersLong.count();
    f.heavy_peers_1h = this.heavyPeers;
    f.p2p_peers_1h = this.mP2pPeers?.count() ?? 0;
    f.p2p_ports_1h = this.mP2pPorts?.count() ?? 0;
    f.bt_port_peers_1h = this.mBtPortPeers?.count() ?? 0;
    f.bt_evidence = ring[R_BT_EVIDENCE]! + this.mBtEvidence;
    f.bt_approved = ring[R_BT_APPROVED]! + this.mBtApproved;
    f.info_hashes = this.infoHashes?.size ?? 0;
    f.duty_24h = ring[R_ACTIVE]! + (this.mDutyMarked ? 1 : 0);
    f.active_minutes_1h = activeMinutes;
    f.sustained_minutes_1h = sustained;
    f.sustained_hours_24h = ring[R_SUSTAINED]! + (sustained >= ctx.sustainedHourShorts ? 1 : 0);
    f.regularity_1h = reg;
    f.downloads_1h = this.mDownloads;
    f.large_transfers_1h = this.mLargeTransfers;
    f.objects_1m = this.sObjects?.count() ?? 0;
    f.objects_1h = this.mObjects?.count() ?? 0;
    f.objects_24h = this.objectsLong?.count() ?? 0;
    f.large_objects_1h = this.mLargeObjects;
    f.sequential_1h = this.mSequential;
    f.shared_objects_24h = ring[R_SHARED]! + this.mShared;
    // Both computed on every call, used or not: a read or call first reached in the middle of a
    // replay (once the baseline or the population is ready) deoptimizes this function.
    const floor = ctx.baselineFloor;
    const { hosts, median, mad } = population ?? NO_POPULATION;
    const volumeVsBaseline = this.mBytesIn / Math.max(this.ewma, floor);
    const volumeZ = Math.max(0, (this.mBytesIn - median) / Math.max(1.4826 * mad, floor));
    f.volume_vs_baseline = baselineReady ? volumeVsBaseline : 0;
    f.volume_z = hosts > 0 ? volumeZ : 0;
    f.approved_share = bytesIn24 + approvedIn24 > 0 ? approvedIn24 / (bytesIn24 + approvedIn24) : 0;
    return f;
  }

  /** Top remotes of the running medium window by bytes downloaded. */
  topRemotes(n: number): { label: string; bytes: number }[] {
    return this.remotes.top(n);
  }

  /** Approximate heap bytes held by this host. */
  byteSize(): number {
    // The object with its boxed numbers, its key in the engine's map and the host's name: ~1 KB.
    const ring = this.ring ? TYPED_ARRAY_OVERHEAD + this.ring.byteLength : 0;
    const bytes = 1_000 + ring + this.remotes.byteSize() + (this.infoHashes?.size ?? 0) * 100;
    const sketches = this.sPeers.byteSize() + this.mPeers.byteSize() + this.peersCurrent.byteSize() + this.peersLong.byteSize();
    const optional =
      (this.mP2pPeers?.byteSize() ?? 0) +
      (this.mP2pPorts?.byteSize() ?? 0) +
      (this.mBtPortPeers?.byteSize() ?? 0) +
      (this.sObjects?.byteSize() ?? 0) +
      (this.mObjects?.byteSize() ?? 0) +
      (this.objectsCurrent?.byteSize() ?? 0) +
      (this.objectsLong?.byteSize() ?? 0);
    return bytes + sketches + optional;
  }
}

/** 1 − coefficient of variation of inter-arrival gaps, floored at 0. */
export function regularity(count: number, mean: number, m2: number): number {
  if (count < 2 || mean <= 0) return 0;
  const cv = Math.sqrt(m2 / (count - 1)) / mean;
  return Math.max(0, 1 - cv);
}
