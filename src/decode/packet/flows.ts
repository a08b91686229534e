// Bidirectional flow assembly on packet time, with protocol identification on the first
// payload packets of each flow. A flow becomes one FlowRecord when it ends: TCP FIN/RST,
// idle timeout, active timeout (a partial record, the flow goes on), eviction, end of input.

import type { AppEvidence, BitTorrentVia, FlowRecord, SourceRef } from '../../record.js';
import { IPv4TextCache } from '../../util/ip.js';
import {
  HANDSHAKE_PREFIX,
  clientFromPeerId,
  looksLikeKrpcPrefix,
  matchHandshake,
  matchKrpc,
  matchLsd,
  matchUdpTrackerRequest,
  parseUtp,
  printablePeerId,
  trackerQuery,
  trackerResponsePeers,
  udpTrackerAnnouncePeers,
  isBitTorrentServiceName,
} from './bittorrent.js';
import { BoundedTtlCache } from './cache.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, PacketView, decodeLayers, formatIPv6At, u32 } from './layers.js';
import { MAX_HEAD, hostName, matchHttpRequest, matchTlsClientHello, parseDns } from './names.js';

export interface FlowOptions {
  sourceId: string;
  idleTimeoutMs: number;
  activeTimeoutMs: number;
  /** How long a TCP flow stays after FIN in both directions or RST, to absorb the last ACKs. */
  closeLingerMs: number;
  maxFlows: number;
  /** Payload packets per flow looked at by the identification. */
  maxInspectPackets: number;
  knownPeerTtlMs: number;
  knownPeerMax: number;
  dnsCacheTtlMs: number;
  dnsCacheMax: number;
  /** Memory for the first bytes of streams still being identified, across all flows. */
  maxHeadBytes: number;
}

export const DEFAULT_FLOW_OPTIONS: FlowOptions = {
  sourceId: 'pcap',
  idleTimeoutMs: 60_000,
  activeTimeoutMs: 300_000,
  closeLingerMs: 2_000,
  maxFlows: 100_000,
  maxInspectPackets: 16,
  knownPeerTtlMs: 3_600_000,
  knownPeerMax: 65_536,
  dnsCacheTtlMs: 3_600_000,
  dnsCacheMax: 65_536,
  maxHeadBytes: 32 * 1024 * 1024,
};

export type EndReason = 'fin' | 'rst' | 'idle' | 'active' | 'evicted' | 'end';

/** Plain counters, read and reset by the source (no metric call per packet). */
export class TrackerStats {
  packets = 0;
  bytes = 0;
  fragments = 0;
  evicted = 0;
  /** Problems and skips by reason. */
  readonly errors = new Map<string, number>();
  readonly skipped = new Map<string, number>();
  /** Records produced, by why the flow (or its partial record) ended. */
  readonly ended = new Map<EndReason, number>();

  count(map: Map<string, number>, reason: string): void {
    map.set(reason, (map.get(reason) ?? 0) + 1);
  }
}

type Endpoint = number | string;
type FlowKey = number | string;

/** Text key of an IPv4 flow: 16-bit units, no number formatting; the lower endpoint first. */
function textKeyV4(proto: number, low: number, lowPort: number, high: number, highPort: number): string {
  return String.fromCharCode(proto, low >>> 16, low & 0xffff, lowPort, high >>> 16, high & 0xffff, highPort);
}

/** A small-integer hash of an IPv4 5-tuple (endpoints in key order). Exported for tests. */
export function hashV4(proto: number, low: number, lowPort: number, high: number, highPort: number): number {
  let h = Math.imul(low ^ 0x9e3779b9, 0x85ebca6b) ^ high;
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) ^ ((lowPort << 16) | highPort);
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) ^ proto;
  h ^= h >>> 16;
  // 31 bits, signed: a small integer, so a map lookup allocates nothing.
  return h >> 1;
}

/** markBitTorrent without info hashes: one shared empty list, not a fresh one per packet. */
const NO_HASHES: readonly string[] = Object.freeze([]);

/** Where the head of one direction of a TCP stream stands. */
const HEAD_COLLECTING = 0;
const HEAD_DONE = 1;

/** Identification state of a flow, held only while its first payload packets are looked at. */
class Inspection {
  /** Payload packets looked at. */
  packets = 0;
  headOut: Buffer | undefined = undefined;
  headOutLen = 0;
  headOutState = HEAD_COLLECTING;
  nextSeqOut = -1;
  headIn: Buffer | undefined = undefined;
  headInLen = 0;
  headInState = HEAD_COLLECTING;
  nextSeqIn = -1;
  utpSynId = -1;
  utpIdOut = -1;
  utpIdIn = -1;
  trackerConnected = false;

  /** Bytes held by both stream heads. */
  heldBytes(): number {
    return (this.headOut?.length ?? 0) + (this.headIn?.length ?? 0);
  }
}

class Flow {
  ts = 0;
  tsEnd = 0;
  bytesOut = 0;
  bytesIn = 0;
  packetsOut = 0;
  packetsIn = 0;
  /** Set after a partial record: the next packet starts the next record. */
  restart = false;
  finOut = false;
  finIn = false;
  /** Packet time at which the flow was closed by FIN/RST, or -1. */
  closedAt = -1;
  closeReason: EndReason = 'fin';
  inspectDone = false;
  /** Created by the first payload packet, dropped when identification stops. */
  inspection: Inspection | undefined = undefined;
  app: AppEvidence | undefined = undefined;
  serverName: string | undefined = undefined;
  url: string | undefined = undefined;
  method: string | undefined = undefined;
  userAgent: string | undefined = undefined;
  /** IPv4 initiator address: the direction test without building endpoint keys. */
  initiatorV4 = -1;
  /** IPv4 endpoints in key order (lower first): checks a hashed key, rebuilds the text key. */
  lowV4 = 0;
  lowPort = 0;
  highV4 = 0;
  highPort = 0;
  /** IPv6: both addresses in key order as eight 32-bit words (checks a hashed key). */
  wordsV6: Uint32Array | undefined = undefined;
  /** IPv6: the initiator is the lower endpoint in key order (the direction test). */
  initiatorLow = false;
  /** IPv6: the text key, as closed flows are remembered. */
  textKeyV6 = '';

  constructor(
    /** A number (hash of the 5-tuple) or the text key; see FlowTracker.account. */
    readonly key: FlowKey,
    readonly proto: number,
    readonly v6: boolean,
    readonly initiator: Endpoint,
    readonly responder: Endpoint,
    readonly src: string,
    readonly srcPort: number,
    readonly dst: string,
    readonly dstPort: number,
  ) {}
}

function endpointV6(buf: Buffer, off: number, port: number): string {
  return buf.toString('latin1', off, off + 16) + String.fromCharCode(port);
}

/** IPv6 endpoints in key order (as their text keys sort): negative when `a` comes first, 0 when equal. */
function compareV6(buf: Buffer, aOff: number, aPort: number, bOff: number, bPort: number): number {
  for (let i = 0; i < 16; i++) {
    const d = buf[aOff + i]! - buf[bOff + i]!;
    if (d !== 0) return d;
  }
  return aPort - bPort;
}

/** A small-integer hash of an IPv6 5-tuple (endpoints in key order). Exported for tests. */
export function hashV6(buf: Buffer, proto: number, lowOff: number, lowPort: number, highOff: number, highPort: number): number {
  let h = Math.imul(proto ^ 0x9e3779b9, 0x85ebca6b);
  for (let i = 0; i < 16; i += 4) {
    h = Math.imul(h ^ u32(buf, lowOff + i), 0xc2b2ae35);
    h = Math.imul(h ^ u32(buf, highOff + i) ^ (h >>> 15), 0x27d4eb2f);
  }
  h = Math.imul(h ^ ((lowPort << 16) | highPort) ^ (h >>> 13), 0x85ebca6b);
  h ^= h >>> 16;
  return h >> 1;
}

function textKeyV6(buf: Buffer, proto: number, lowOff: number, lowPort: number, highOff: number, highPort: number): string {
  return `6${proto}|${endpointV6(buf, lowOff, lowPort)}|${endpointV6(buf, highOff, highPort)}`;
}

function sameWordsV6(words: Uint32Array, buf: Buffer, lowOff: number, highOff: number): boolean {
  for (let i = 0; i < 4; i++) if (words[i] !== u32(buf, lowOff + 4 * i) || words[4 + i] !== u32(buf, highOff + 4 * i)) return false;
  return true;
}

/** Endpoint key of a compact peer entry (6 bytes IPv4 or 18 bytes IPv6), as flows key them. */
function compactEndpoint(entry: Buffer): Endpoint {
  if (entry.length === 6) return entry.readUInt32BE(0) * 65536 + entry.readUInt16BE(4);
  return endpointV6(entry, 0, entry.readUInt16BE(16));
}

export class FlowTracker {
  /**
   * Flows sit under a hash of their 5-tuple (checked against the flow's endpoints); one whose
   * hash is taken by another flow under its text key.
   */
  private readonly flows = new Map<FlowKey, Flow>();
  /** Set once a flow had to take its text key: a miss then also looks there. */
  private hashCollided = false;
  /** The IPv4 flow of the previous IPv4 packet, while it is tracked. */
  private lastFlowV4: Flow | undefined;
  private readonly view = new PacketView();
  private readonly ipv4Text = new IPv4TextCache();
  /** One source reference shared by every record, as the line decoders do. */
  private readonly source: SourceRef;
  /** Endpoints (ip, port) of BitTorrent peers seen or announced, with the info hash when known. */
  private readonly knownPeers: BoundedTtlCache<Endpoint, string>;
  /** IP (number for IPv4, 16-byte text for IPv6) → name from DNS answers. */
  private readonly dnsNames: BoundedTtlCache<number | string, string>;
  /** Keys of TCP flows recently closed by FIN/RST: late ACKs and FIN retransmissions land here. */
  private readonly closedKeys: BoundedTtlCache<string, true>;
  private now = 0;
  private nextSweep = 0;
  /** Bytes held in stream heads awaiting a decision, across all flows. */
  private headBytes = 0;
  private readonly maxHeadBytes: number;
  private readonly sweepEveryMs: number;

  constructor(
    private readonly options: FlowOptions,
    /** Records are appended here; the caller drains it. */
    readonly out: FlowRecord[],
    readonly stats: TrackerStats = new TrackerStats(),
  ) {
    this.source = { type: 'pcap', id: options.sourceId };
    this.knownPeers = new BoundedTtlCache(options.knownPeerMax, options.knownPeerTtlMs);
    this.dnsNames = new BoundedTtlCache(options.dnsCacheMax, options.dnsCacheTtlMs);
    this.closedKeys = new BoundedTtlCache(Math.min(options.maxFlows, 65_536), options.idleTimeoutMs);
    this.maxHeadBytes = options.maxHeadBytes;
    this.sweepEveryMs = Math.max(100, Math.min(1000, options.idleTimeoutMs / 4, options.closeLingerMs));
  }

  get trackedFlows(): number {
    return this.flows.size;
  }

  get knownPeerCount(): number {
    return this.knownPeers.size;
  }

  get dnsCacheSize(): number {
    return this.dnsNames.size;
  }

  /** Bytes held for stream heads (bounded by `maxHeadBytes`). */
  get heldHeadBytes(): number {
    return this.headBytes;
  }

  /** One captured packet. Never throws on packet content. */
  packet(linktype: number, tsMs: number, data: Buffer, wireLength: number, start = 0, end = data.length): void {
    const stats = this.stats;
    stats.packets++;
    stats.bytes += wireLength;
    if (tsMs > this.now) this.now = tsMs;
    if (this.now >= this.nextSweep) this.sweep();
    const view = this.view;
    const result = decodeLayers(linktype, data, view, start, end);
    if (result !== 'ok') {
      if (result === 'non_ip' || result === 'unsupported_linktype') stats.count(stats.skipped, result);
      else stats.count(stats.errors, result);
      return;
    }
    if (view.fragment) {
      stats.fragments++;
      // Later fragments carry no ports: counted, not reassembled, not attributed.
      if (view.laterFragment) {
        stats.count(stats.skipped, 'ip_fragment');
        return;
      }
    }
    this.account(view, tsMs);
  }

  private account(view: PacketView, tsMs: number): void {
    // The lower endpoint first so both directions meet in one flow.
    let key: FlowKey;
    let flow: Flow | undefined;
    /** The flow found under the hash key is the packet's (or the previous packet's flow is). */
    let same: boolean;
    /** The packet's source is the lower endpoint in key order. */
    let srcLow: boolean;
    /** IPv6 only: 1 when the packet's source is the lower endpoint, 0 when not, 2 when both are equal. */
    let srcIsLowV6 = -1;
    if (view.ipVersion === 4) {
      const s = view.srcV4;
      const d = view.dstV4;
      const sp = view.srcPort;
      const dp = view.dstPort;
      srcLow = s < d || (s === d && sp <= dp);
      const low = srcLow ? s : d;
      const lowPort = srcLow ? sp : dp;
      const high = srcLow ? d : s;
      const highPort = srcLow ? dp : sp;
      const proto = view.proto;
      const last = this.lastFlowV4;
      // Most packets belong to the same flow as the one before: no hash, no lookup.
      if (last !== undefined && last.proto === proto && last.lowV4 === low && last.lowPort === lowPort && last.highV4 === high && last.highPort === highPort) {
        key = last.key;
        flow = last;
        same = true;
      } else {
        // A number key: no string built or hashed per packet.
        key = hashV4(proto, low, lowPort, high, highPort);
        flow = this.flows.get(key);
        same = flow !== undefined && !flow.v6 && flow.proto === proto && flow.lowV4 === low && flow.lowPort === lowPort && flow.highV4 === high && flow.highPort === highPort;
      }
    } else {
      const buf = view.buf;
      const order = compareV6(buf, view.srcOff, view.srcPort, view.dstOff, view.dstPort);
      srcLow = order <= 0;
      const lowOff = srcLow ? view.srcOff : view.dstOff;
      const lowPort = srcLow ? view.srcPort : view.dstPort;
      const highOff = srcLow ? view.dstOff : view.srcOff;
      const highPort = srcLow ? view.dstPort : view.srcPort;
      const proto = view.proto;
      key = hashV6(buf, proto, lowOff, lowPort, highOff, highPort);
      flow = this.flows.get(key);
      same = flow !== undefined && flow.v6 && flow.proto === proto && flow.lowPort === lowPort && flow.highPort === highPort && sameWordsV6(flow.wordsV6!, buf, lowOff, highOff);
      // Both endpoints equal: every packet counts as the initiator's, as an endpoint comparison would.
      srcIsLowV6 = order === 0 ? 2 : srcLow ? 1 : 0;
    }
    if (!same && (flow !== undefined || this.hashCollided)) {
      const text = this.textKeyOf(view);
      const found = this.flows.get(text);
      if (found !== undefined || flow !== undefined) {
        // Ours under its text key, or the hash belongs to another flow: use the text key.
        if (flow !== undefined) this.hashCollided = true;
        key = text;
      }
      flow = found;
    }
    const flags = view.tcpFlags;
    if (flow !== undefined && flow.closedAt >= 0 && view.proto === 6 && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      // A new connection reusing the ports of a closed one.
      this.end(flow, flow.closeReason);
      flow = undefined;
    }
    if (flow === undefined) {
      if (view.proto === 6 && view.payloadLen === 0 && (flags & TCP_SYN) === 0 && this.closedKeys.get(this.textKeyOf(view), tsMs) !== undefined) {
        this.stats.count(this.stats.skipped, 'after_close');
        return;
      }
      flow = this.open(view, key, tsMs, srcLow);
    }
    else if (!flow.restart && tsMs - flow.ts >= this.options.activeTimeoutMs) this.emit(flow, 'active');
    if (view.ipVersion === 4) this.lastFlowV4 = flow;
    if (flow.restart) {
      flow.restart = false;
      flow.ts = tsMs;
    }
    if (tsMs > flow.tsEnd) flow.tsEnd = tsMs;
    const outbound = srcIsLowV6 < 0 ? view.srcV4 === flow.initiatorV4 && view.srcPort === flow.srcPort : srcIsLowV6 === 2 || (srcIsLowV6 === 1) === flow.initiatorLow;
    if (outbound) {
      flow.bytesOut += view.ipLength;
      flow.packetsOut++;
    } else {
      flow.bytesIn += view.ipLength;
      flow.packetsIn++;
    }
    if (view.proto === 6 && flags !== 0) {
      if (flags & TCP_RST) {
        if (flow.closedAt < 0) flow.closedAt = tsMs;
        flow.closeReason = 'rst';
      } else if (flags & TCP_FIN) {
        if (outbound) flow.finOut = true;
        else flow.finIn = true;
        if (flow.finOut && flow.finIn && flow.closedAt < 0) {
          flow.closedAt = tsMs;
          flow.closeReason = 'fin';
        }
      }
    }
    if (!flow.inspectDone && view.payloadLen > 0) this.inspect(flow, view, outbound);
  }

  /** The text key of the packet's flow (as closed flows are remembered). */
  private textKeyOf(view: PacketView): string {
    if (view.ipVersion === 6) {
      const buf = view.buf;
      return compareV6(buf, view.srcOff, view.srcPort, view.dstOff, view.dstPort) <= 0
        ? textKeyV6(buf, view.proto, view.srcOff, view.srcPort, view.dstOff, view.dstPort)
        : textKeyV6(buf, view.proto, view.dstOff, view.dstPort, view.srcOff, view.srcPort);
    }
    const s = view.srcV4;
    const d = view.dstV4;
    const sp = view.srcPort;
    const dp = view.dstPort;
    return s < d || (s === d && sp <= dp) ? textKeyV4(view.proto, s, sp, d, dp) : textKeyV4(view.proto, d, dp, s, sp);
  }

  /** `srcLow`: the packet's source is the lower endpoint in key order (as `account` found). */
  private open(view: PacketView, key: FlowKey, tsMs: number, srcLow: boolean): Flow {
    if (this.flows.size >= this.options.maxFlows) {
      // Oldest-created flow goes first: bounded memory wins over completeness.
      const oldest = this.flows.values().next();
      if (!oldest.done) {
        this.stats.evicted++;
        this.end(oldest.value, 'evicted');
      }
    }
    // The initiator sent the first packet, except that a SYN-ACK comes from the responder.
    const reversed = view.proto === 6 && (view.tcpFlags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
    let srcText: string;
    let dstText: string;
    let from: Endpoint;
    let to: Endpoint;
    if (view.ipVersion === 4) {
      srcText = this.ipv4Text.text(view.srcV4);
      dstText = this.ipv4Text.text(view.dstV4);
      from = view.srcV4 * 65536 + view.srcPort;
      to = view.dstV4 * 65536 + view.dstPort;
    } else {
      srcText = formatIPv6At(view.buf, view.srcOff);
      dstText = formatIPv6At(view.buf, view.dstOff);
      from = endpointV6(view.buf, view.srcOff, view.srcPort);
      to = endpointV6(view.buf, view.dstOff, view.dstPort);
    }
    const flow = reversed
      ? new Flow(key, view.proto, view.ipVersion === 6, to, from, dstText, view.dstPort, srcText, view.srcPort)
      : new Flow(key, view.proto, view.ipVersion === 6, from, to, srcText, view.srcPort, dstText, view.dstPort);
    flow.ts = tsMs;
    flow.tsEnd = tsMs;
    if (view.ipVersion === 6) {
      const buf = view.buf;
      const lowOff = srcLow ? view.srcOff : view.dstOff;
      const highOff = srcLow ? view.dstOff : view.srcOff;
      flow.lowPort = srcLow ? view.srcPort : view.dstPort;
      flow.highPort = srcLow ? view.dstPort : view.srcPort;
      const words = new Uint32Array(8);
      for (let i = 0; i < 4; i++) {
        words[i] = u32(buf, lowOff + 4 * i);
        words[4 + i] = u32(buf, highOff + 4 * i);
      }
      flow.wordsV6 = words;
      flow.initiatorLow = reversed ? !srcLow : srcLow;
      flow.textKeyV6 = textKeyV6(buf, view.proto, lowOff, flow.lowPort, highOff, flow.highPort);
    } else {
      flow.initiatorV4 = reversed ? view.dstV4 : view.srcV4;
      const s = view.srcV4;
      const d = view.dstV4;
      flow.lowV4 = srcLow ? s : d;
      flow.lowPort = srcLow ? view.srcPort : view.dstPort;
      flow.highV4 = srcLow ? d : s;
      flow.highPort = srcLow ? view.dstPort : view.srcPort;
    }
    // No DNS answer seen yet (a capture without DNS): no address key to build.
    if (this.dnsNames.size > 0) flow.serverName = this.dnsNames.get(this.ipKey(view, reversed), tsMs);
    this.flows.set(key, flow);
    return flow;
  }

  private ipKey(view: PacketView, source: boolean): number | string {
    if (view.ipVersion === 4) return source ? view.srcV4 : view.dstV4;
    const off = source ? view.srcOff : view.dstOff;
    return view.buf.toString('latin1', off, off + 16);
  }

  // ---- identification ----

  private inspect(flow: Flow, view: PacketView, outbound: boolean): void {
    let inspection = flow.inspection;
    if (inspection === undefined) {
      if (view.proto !== 6 && view.proto !== 17) {
        flow.inspectDone = true;
        return;
      }
      inspection = new Inspection();
      flow.inspection = inspection;
    }
    if (++inspection.packets > this.options.maxInspectPackets) {
      this.stopInspecting(flow);
      return;
    }
    const payload = view.payload();
    if (view.proto === 6) this.inspectTcp(flow, inspection, view, payload, outbound);
    else this.inspectUdp(flow, inspection, view, payload, outbound);
  }

  private stopInspecting(flow: Flow): void {
    flow.inspectDone = true;
    if (flow.inspection !== undefined) this.headBytes -= flow.inspection.heldBytes();
    flow.inspection = undefined;
  }

  private markBitTorrent(flow: Flow, via: BitTorrentVia, infoHashes: readonly string[] = NO_HASHES, peerId?: Buffer): AppEvidence {
    let app = flow.app;
    let first = false;
    if (app === undefined || app.name !== 'bittorrent') {
      app = { name: 'bittorrent', via };
      flow.app = app;
      first = true;
    }
    const hadHash = app.infoHash !== undefined;
    for (const h of infoHashes) {
      if (app.infoHash === undefined) app.infoHash = h;
      else if (app.infoHash !== h && !(app.infoHashes !== undefined && app.infoHashes.includes(h))) {
        app.infoHashes ??= [];
        if (app.infoHashes.length < 32) app.infoHashes.push(h);
      }
    }
    if (peerId !== undefined && app.peerId === undefined) {
      app.peerId = printablePeerId(peerId);
      const client = clientFromPeerId(peerId);
      if (client !== undefined) app.client = client;
    }
    // Both ends of a peer connection are peers of the swarm; a UDP initiator's port is its
    // listening port (DHT, uTP), a TCP initiator's port is ephemeral and not remembered.
    const learnt = first || (!hadHash && app.infoHash !== undefined);
    if (learnt && via !== 'tracker' && via !== 'udp_tracker' && via !== 'server_name') {
      this.rememberPeer(flow.responder, app.infoHash);
      if (flow.proto === 17) this.rememberPeer(flow.initiator, app.infoHash);
    }
    return app;
  }

  /** Remember a swarm peer; without a hash of its own it keeps the one it was known with. */
  private rememberPeer(endpoint: Endpoint, infoHash: string | undefined): void {
    this.knownPeers.set(endpoint, infoHash ?? this.knownPeers.get(endpoint, this.now) ?? '', this.now);
  }

  /** A name of a BitTorrent vendor's service (weak evidence, as nDPI's host list). */
  private checkName(flow: Flow, name: string | undefined): void {
    if (name !== undefined && flow.app?.name !== 'bittorrent' && isBitTorrentServiceName(name)) this.markBitTorrent(flow, 'server_name');
  }

  private learnPeers(entries: readonly Buffer[], infoHash: string | undefined): void {
    for (const e of entries) this.rememberPeer(compactEndpoint(e), infoHash);
  }

  private inspectTcp(flow: Flow, insp: Inspection, view: PacketView, payload: Buffer, outbound: boolean): void {
    const state = outbound ? insp.headOutState : insp.headInState;
    if (state === HEAD_COLLECTING) {
      const expected = outbound ? insp.nextSeqOut : insp.nextSeqIn;
      // Retransmissions and out-of-order segments do not extend the head.
      if (expected < 0 || view.tcpSeq === expected) {
        const next = (view.tcpSeq + payload.length) >>> 0;
        if (outbound) insp.nextSeqOut = next;
        else insp.nextSeqIn = next;
        if ((outbound ? insp.headOutLen : insp.headInLen) === 0) {
          // Most streams are decided by their first segment: copy only when a matcher waits.
          if (this.matchHead(flow, insp, outbound, payload)) this.appendHead(insp, outbound, payload);
        } else {
          this.appendHead(insp, outbound, payload);
          const head = outbound ? insp.headOut : insp.headIn;
          if (head !== undefined) this.matchHead(flow, insp, outbound, head.subarray(0, outbound ? insp.headOutLen : insp.headInLen));
        }
      }
    } else if (flow.app?.name !== 'bittorrent') {
      // A handshake later in a stream whose start was not captured (a resumed connection).
      const at = payload.indexOf(HANDSHAKE_PREFIX);
      if (at >= 0) {
        const m = matchHandshake(payload.subarray(at));
        if (typeof m === 'object') this.markBitTorrent(flow, 'handshake', m.infoHash ? [m.infoHash] : NO_HASHES, m.peerId);
      }
    }
    // Unidentified streams stay under watch: a handshake may follow an MSE negotiation in clear.
    if (insp.headOutState === HEAD_DONE && insp.headInState === HEAD_DONE && flow.app !== undefined) this.stopInspecting(flow);
  }

  private appendHead(insp: Inspection, outbound: boolean, payload: Buffer): void {
    let head = outbound ? insp.headOut : insp.headIn;
    const len = outbound ? insp.headOutLen : insp.headInLen;
    const room = MAX_HEAD - len;
    if (room <= 0) return;
    const take = Math.min(room, payload.length);
    if (head === undefined || head.length < len + take) {
      const size = Math.min(MAX_HEAD, Math.max(256, (len + take) * 2));
      // Stream heads share one memory budget: past it, streams go uninspected (counted).
      if (this.headBytes + size - (head?.length ?? 0) > this.maxHeadBytes) {
        this.stats.count(this.stats.skipped, 'inspect_budget');
        this.finishHead(insp, outbound);
        return;
      }
      this.headBytes += size - (head?.length ?? 0);
      const grown = Buffer.allocUnsafe(size);
      if (head !== undefined) head.copy(grown, 0, 0, len);
      head = grown;
    }
    payload.copy(head, len, 0, take);
    if (outbound) {
      insp.headOut = head;
      insp.headOutLen = len + take;
    } else {
      insp.headIn = head;
      insp.headInLen = len + take;
    }
  }

  private finishHead(insp: Inspection, outbound: boolean): void {
    if (outbound) {
      insp.headOutState = HEAD_DONE;
      this.headBytes -= insp.headOut?.length ?? 0;
      insp.headOut = undefined;
    } else {
      insp.headInState = HEAD_DONE;
      this.headBytes -= insp.headIn?.length ?? 0;
      insp.headIn = undefined;
    }
  }

  /** Run the stream matchers on the head of one direction; true while one waits for more bytes. */
  private matchHead(flow: Flow, insp: Inspection, outbound: boolean, head: Buffer): boolean {
    const full = head.length >= MAX_HEAD;
    let waiting = false;

    const hs = matchHandshake(head);
    if (typeof hs === 'object') {
      this.markBitTorrent(flow, 'handshake', hs.infoHash ? [hs.infoHash] : NO_HASHES, hs.peerId);
      if (hs.peerId !== undefined) {
        this.finishHead(insp, outbound);
        return false;
      }
      return true;
    }
    if (hs === 'wait') waiting = true;

    if (outbound) {
      const http = matchHttpRequest(head);
      if (typeof http === 'object') {
        this.onHttpRequest(flow, http);
        // Keep-alive: later requests on the same connection may be announces; restart the head.
        insp.headOutLen = 0;
        return false;
      }
      if (http === 'wait') waiting = true;
      const tls = matchTlsClientHello(head);
      if (typeof tls === 'object') {
        if (flow.app === undefined) flow.app = { name: 'tls' };
        if (tls.sni) flow.serverName = tls.sni;
        this.checkName(flow, tls.sni);
        this.finishHead(insp, outbound);
        return false;
      }
      if (tls === 'wait') waiting = true;
    } else if (flow.app?.name === 'bittorrent' && flow.app.via === 'tracker') {
      const peers = trackerResponsePeers(head);
      if (peers.length > 0) {
        this.learnPeers(peers, flow.app.infoHash);
        this.finishHead(insp, outbound);
        return false;
      }
      waiting = true;
    }
    if (!waiting || full) {
      this.finishHead(insp, outbound);
      return false;
    }
    return true;
  }

  private onHttpRequest(flow: Flow, http: { method: string; target: string; host?: string; userAgent?: string }): void {
    const host = http.host !== undefined ? hostName(http.host) : undefined;
    if (host) flow.serverName = host;
    if (flow.url === undefined) {
      const authority = http.host ?? flow.dst;
      flow.url = http.target.startsWith('http://') || http.target.startsWith('https://') ? http.target : `http://${authority}${http.target}`;
      flow.method = http.method;
      if (http.userAgent !== undefined) flow.userAgent = http.userAgent;
    }
    const tracker = trackerQuery(http.target);
    if (tracker !== undefined) {
      const app = this.markBitTorrent(flow, 'tracker', tracker.infoHashes, tracker.peerId);
      app.tracker = host ?? flow.dst;
      flow.url = http.target.startsWith('http') ? http.target : `http://${http.host ?? flow.dst}${http.target}`;
      flow.method = http.method;
    } else {
      if (flow.app === undefined) flow.app = { name: 'http' };
      this.checkName(flow, host);
    }
  }

  private inspectUdp(flow: Flow, insp: Inspection, view: PacketView, payload: Buffer, outbound: boolean): void {
    const first = payload[0];
    // DHT (KRPC): a bencoded dictionary.
    if (first === 0x64) {
      const krpc = matchKrpc(payload);
      if (krpc !== undefined) {
        this.markBitTorrent(flow, 'dht', krpc.infoHashes);
        if (krpc.peers.length > 0) this.learnPeers(krpc.peers, flow.app?.infoHash);
        return;
      }
      if (looksLikeKrpcPrefix(payload)) {
        this.markBitTorrent(flow, 'dht');
        return;
      }
    }
    if (first === 0x42 /* B */) {
      const lsd = matchLsd(payload);
      if (lsd !== undefined) {
        this.markBitTorrent(flow, 'lsd', lsd);
        return;
      }
    }
    if (outbound) {
      const tracker = matchUdpTrackerRequest(payload, insp.trackerConnected);
      if (tracker !== undefined) {
        insp.trackerConnected = true;
        if (tracker.kind === 'connect') this.markBitTorrent(flow, 'udp_tracker');
        else if (tracker.kind === 'announce') this.markBitTorrent(flow, 'udp_tracker', [tracker.infoHash], tracker.peerId);
        else this.markBitTorrent(flow, 'udp_tracker', tracker.infoHashes);
        return;
      }
    } else if (flow.app?.via === 'udp_tracker') {
      const peers = udpTrackerAnnouncePeers(payload, flow.v6);
      if (peers.length > 0) this.learnPeers(peers, flow.app.infoHash);
      return;
    }
    const utp = parseUtp(payload);
    if (utp !== undefined) {
      this.onUtp(flow, insp, utp.type, utp.connectionId, outbound);
      if (flow.app?.name === 'bittorrent' && utp.type === 0) {
        const m = matchHandshake(payload.subarray(utp.dataOffset));
        if (typeof m === 'object') this.markBitTorrent(flow, 'utp', m.infoHash ? [m.infoHash] : NO_HASHES, m.peerId);
      }
      return;
    }
    if (view.srcPort === 53 || view.dstPort === 53 || view.srcPort === 5353 || view.dstPort === 5353 || view.srcPort === 5355 || view.dstPort === 5355) {
      const dns = parseDns(payload);
      if (dns !== undefined) {
        if (flow.app === undefined) flow.app = { name: 'dns' };
        this.checkName(flow, dns.question);
        for (const a of dns.answers) {
          const key = a.address.length === 4 ? a.address.readUInt32BE(0) : a.address.toString('latin1');
          this.dnsNames.set(key, a.name, this.now);
        }
      }
    }
  }

  private onUtp(flow: Flow, insp: Inspection, type: number, connectionId: number, outbound: boolean): void {
    // BEP 29: the SYN carries the initiator's receive id; the responder sends with that id and
    // the initiator sends with id + 1. Two ends agreeing on that is the evidence.
    if (outbound) {
      if (type === 4) insp.utpSynId = connectionId;
      else if (insp.utpIdOut < 0) insp.utpIdOut = connectionId;
    } else if (insp.utpIdIn < 0) insp.utpIdIn = connectionId;
    const synAnswered = insp.utpSynId >= 0 && insp.utpIdIn === insp.utpSynId;
    const idsAgree = insp.utpIdOut >= 0 && insp.utpIdIn >= 0 && ((insp.utpIdIn + 1) & 0xffff) === insp.utpIdOut;
    if (synAnswered || idsAgree) this.markBitTorrent(flow, 'utp');
  }

  // ---- ending flows ----

  /** Advance packet time without a packet (used by live sources when the link is quiet). */
  advance(tsMs: number): void {
    if (tsMs > this.now) this.now = tsMs;
    if (this.now >= this.nextSweep) this.sweep();
  }

  private sweep(): void {
    const now = this.now;
    this.nextSweep = now + this.sweepEveryMs;
    const { idleTimeoutMs, activeTimeoutMs, closeLingerMs } = this.options;
    for (const flow of this.flows.values()) {
      if (flow.closedAt >= 0 && now - flow.tsEnd >= closeLingerMs) this.end(flow, flow.closeReason);
      else if (now - flow.tsEnd >= idleTimeoutMs) this.end(flow, 'idle');
      else if (!flow.restart && now - flow.ts >= activeTimeoutMs) this.emit(flow, 'active');
    }
  }

  /** End of input: every flow still tracked becomes a record. */
  finish(): void {
    for (const flow of this.flows.values()) this.end(flow, 'end');
    this.flows.clear();
  }

  private end(flow: Flow, reason: EndReason): void {
    this.flows.delete(flow.key);
    if (flow === this.lastFlowV4) this.lastFlowV4 = undefined;
    this.stopInspecting(flow);
    if (flow.closedAt >= 0) {
      const text = typeof flow.key === 'string' ? flow.key : flow.v6 ? flow.textKeyV6 : textKeyV4(flow.proto, flow.lowV4, flow.lowPort, flow.highV4, flow.highPort);
      this.closedKeys.set(text, true, this.now);
    }
    this.emit(flow, reason, true);
  }

  /** The info hash a known swarm peer at either end was seen with ('' unknown), or undefined. */
  private knownPeerHash(flow: Flow): string | undefined {
    if (this.knownPeers.size === 0) return undefined;
    return this.knownPeers.get(flow.responder, this.now) ?? (flow.proto === 17 ? this.knownPeers.get(flow.initiator, this.now) : undefined);
  }

  /** Append the flow's record; `final` when the flow is gone, so its evidence is handed over, not copied. */
  private emit(flow: Flow, reason: EndReason, final = false): void {
    if (flow.packetsOut + flow.packetsIn === 0) return;
    const stats = this.stats;
    stats.ended.set(reason, (stats.ended.get(reason) ?? 0) + 1);
    let app = flow.app;
    if (app === undefined || app.name !== 'bittorrent') {
      // A flow to or from a known swarm peer (MSE/PE-encrypted peer wire, uTP we could not
      // pin down) that nothing else explains.
      if (app === undefined || (app.name !== 'http' && app.name !== 'tls' && app.name !== 'dns')) {
        const known = this.knownPeerHash(flow);
        if (known !== undefined) {
          app = { name: 'bittorrent', via: 'known_peer' };
          if (known) app.infoHash = known;
        }
      }
    } else if (app.via === 'utp' && app.infoHash === undefined) {
      // uTP carrying MSE/PE shows no hash on the wire; a tracker that listed the peer named it.
      const known = this.knownPeerHash(flow);
      if (known) app.infoHash = known;
    }
    // Every key the record will carry, in this order, from the start (undefined when unknown,
    // enrichment's last three included): all flow records share one shape, which keeps every
    // later stage's property reads monomorphic. JSON leaves the undefined keys out.
    const record: FlowRecord = {
      ts: Math.floor(flow.ts),
      tsEnd: Math.floor(flow.tsEnd),
      src: flow.src,
      srcPort: flow.srcPort,
      dst: flow.dst,
      dstPort: flow.dstPort,
      proto: flow.proto,
      bytesOut: flow.bytesOut,
      bytesIn: flow.bytesIn,
      packetsOut: flow.packetsOut,
      packetsIn: flow.packetsIn,
      source: this.source,
      serverName: flow.serverName,
      app: app === undefined || final || app !== flow.app ? app : app.infoHashes ? { ...app, infoHashes: [...app.infoHashes] } : { ...app },
      url: flow.url,
      method: flow.method,
      userAgent: flow.userAgent,
      host: undefined,
      remote: undefined,
      approval: undefined,
    };
    this.out.push(record);
    // A partial record: the flow goes on with fresh counters.
    flow.bytesOut = 0;
    flow.bytesIn = 0;
    flow.packetsOut = 0;
    flow.packetsIn = 0;
    flow.restart = true;
  }
}

