// Bidirectional flow assembly on packet time, with protocol identification on the first
// payload packets of each flow. A flow becomes one FlowRecord when it ends: TCP FIN/RST,
// idle timeout, active timeout (a partial record, the flow goes on), eviction, end of input.
// Framing, decoding, the flow table and the screening of payload packets run in the packet core
// (WebAssembly, ./core.ts); this side identifies flows from the packets the core passes on and
// builds their records.

import type { AppEvidence, BitTorrentVia, FlowRecord, SourceRef } from '../../record.js';
import { IPv4TextCache, formatIPv6At } from '../../util/ip.js';
import {
  clientFromPeerId,
  looksLikeKrpcPrefix,
  HANDSHAKE_FULL,
  HANDSHAKE_WITH_HASH,
  handshakeLength,
  hex,
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
import { BoundedTtlCache, ByteStringMemo } from './cache.js';
import { APP, END_REASONS, HEAD, INSPECT, PacketCore, SKIP_REASONS, SLOT_F64, SLOT_U32, V, type EndReason } from './core.js';
import { PacketView, readDecoded } from './layers.js';
import { MAX_HEAD, hostName, matchHttpRequest, matchTlsClientHello, parseDns } from './names.js';

export type { EndReason } from './core.js';

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

  count(map: Map<string, number>, reason: string, n = 1): void {
    map.set(reason, (map.get(reason) ?? 0) + n);
  }
}

/** A peer endpoint as remembered: IPv4 address * 65536 + port, or IPv6 bytes (latin1) + port. */
type Endpoint = number | string;

interface PeerIdText {
  printable: string;
  client: string | undefined;
}

/** A TLS server name as flows take it, and whether it names a BitTorrent vendor's service. */
interface ServerName {
  text: string;
  bitTorrentService: boolean;
}

const NO_SERVER_NAME: ServerName = Object.freeze({ text: '', bitTorrentService: false });

/** markBitTorrent without info hashes: one shared empty list, not a fresh one per packet. */
const NO_HASHES: readonly string[] = Object.freeze([]);

/**
 * Identification state of a flow, held only while its first payload packets are looked at (the
 * core counts them and keeps where each stream head stands, in order).
 */
class Inspection {
  /** Stream heads collected while a matcher waits for more bytes. */
  headOut: Buffer | undefined = undefined;
  headOutLen = 0;
  headIn: Buffer | undefined = undefined;
  headInLen = 0;
  utpSynId = -1;
  utpIdOut = -1;
  utpIdIn = -1;
  trackerConnected = false;

  /** Bytes held by both stream heads. */
  heldBytes(): number {
    return (this.headOut?.length ?? 0) + (this.headIn?.length ?? 0);
  }
}

/** What this side keeps of a tracked flow; counters and times are in its core slot. */
class Flow {
  /** Created by the first payload packet the core passes on; dropped when the flow ends or the core releases it. */
  inspection: Inspection | undefined = undefined;
  app: AppEvidence | undefined = undefined;
  serverName: string | undefined = undefined;
  url: string | undefined = undefined;
  method: string | undefined = undefined;
  userAgent: string | undefined = undefined;

  constructor(
    /** The flow's slot in the core. */
    readonly slot: number,
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

/** One more info hash of a BitTorrent flow (the first is `infoHash`; up to 32 others are kept). */
function addInfoHash(app: AppEvidence, h: string): void {
  if (app.infoHash === undefined) app.infoHash = h;
  else if (app.infoHash !== h && !(app.infoHashes !== undefined && app.infoHashes.includes(h))) {
    app.infoHashes ??= [];
    if (app.infoHashes.length < 32) app.infoHashes.push(h);
  }
}

function endpointV6(buf: Buffer, off: number, port: number): string {
  return buf.toString('latin1', off, off + 16) + String.fromCharCode(port);
}

/** Endpoint key of a compact peer entry (6 bytes IPv4 or 18 bytes IPv6), as flows key them. */
function compactEndpoint(entry: Buffer): Endpoint {
  if (entry.length === 6) return entry.readUInt32BE(0) * 65536 + entry.readUInt16BE(4);
  return endpointV6(entry, 0, entry.readUInt16BE(16));
}

export class FlowTracker {
  private readonly core: PacketCore;
  /** This side of each tracked flow, by core slot. */
  private readonly flows: (Flow | undefined)[] = [];
  /** The packet being inspected, read from the core. */
  private readonly view = new PacketView();
  private readonly ipv4Text = new IPv4TextCache();
  /** IPv6 address texts by address bytes (formatting one is costly). */
  private readonly ipv6Texts = new ByteStringMemo<string>((_text, bytes, at) => formatIPv6At(bytes, at));
  private readonly serverNames = new ByteStringMemo<ServerName>((text) => ({ text, bitTorrentService: isBitTorrentServiceName(text) }), true);
  /** One source reference shared by every record, as the line decoders do. */
  private readonly source: SourceRef;
  /** Endpoints (ip, port) of BitTorrent peers seen or announced, with the info hash when known. */
  private readonly knownPeers: BoundedTtlCache<Endpoint, string>;
  /** IP (number for IPv4, 16-byte text for IPv6) → name from DNS answers. */
  private readonly dnsNames: BoundedTtlCache<number | string, string>;
  /** Peer ids → their printable text and client. */
  private readonly peerIds = new ByteStringMemo<PeerIdText>((_text, bytes, at, end) => {
    const peerId = bytes.subarray(at, end);
    return { printable: printablePeerId(peerId), client: clientFromPeerId(peerId) };
  });
  /** Info hashes as hex by their bytes: a swarm's handshakes repeat them. */
  private readonly infoHashTexts = new ByteStringMemo<string>((_text, bytes, at, end) => hex(bytes, at, end));
  /** Bytes held in stream heads awaiting a decision, across all flows. */
  private headBytes = 0;
  private readonly maxHeadBytes: number;
  private readonly counts: TrackerStats;

  constructor(
    private readonly options: FlowOptions,
    /** Records are appended here; the caller drains it. */
    readonly out: FlowRecord[],
    stats: TrackerStats = new TrackerStats(),
  ) {
    this.counts = stats;
    this.source = { type: 'pcap', id: options.sourceId };
    this.knownPeers = new BoundedTtlCache(options.knownPeerMax, options.knownPeerTtlMs);
    this.dnsNames = new BoundedTtlCache(options.dnsCacheMax, options.dnsCacheTtlMs);
    this.maxHeadBytes = options.maxHeadBytes;
    this.core = new PacketCore(
      {
        opened: (slot) => this.opened(slot),
        inspect: (slot, outbound, kind) => this.inspectPacket(slot, outbound === 1, kind),
        released: (slot) => this.dropInspection(this.flows[slot]!),
        handshake: (slot, at, end) => this.markHandshake(this.flows[slot]!, 'handshake', this.core.bytes, at >>> 0, end >>> 0),
        utp: (slot, outbound, type, connectionId, dataAt) => this.onUtpDatagram(this.flows[slot]!, outbound === 1, type, connectionId, dataAt >>> 0),
        clientHello: (slot, at, length) => this.onClientHello(this.flows[slot]!, length === 0 ? NO_SERVER_NAME : this.serverName(at >>> 0, length)),
        ended: (slot, reason, final) => this.ended(slot, reason, final === 1),
      },
      {
        maxFlows: Math.max(1, options.maxFlows),
        closedMax: Math.min(options.maxFlows, 65_536),
        idleTimeoutMs: options.idleTimeoutMs,
        activeTimeoutMs: options.activeTimeoutMs,
        closeLingerMs: options.closeLingerMs,
        sweepEveryMs: Math.max(100, Math.min(1000, options.idleTimeoutMs / 4, options.closeLingerMs)),
        maxInspectPackets: options.maxInspectPackets,
      },
    );
  }

  /** Counters so far (the core's taken in first). */
  get stats(): TrackerStats {
    const stats = this.counts;
    const c = this.core.takeCounts();
    stats.packets += c.packets;
    stats.bytes += c.bytes;
    stats.fragments += c.fragments;
    stats.evicted += c.evicted;
    for (const [reason, n] of c.reasons) stats.count(SKIP_REASONS.has(reason) ? stats.skipped : stats.errors, reason, n);
    return stats;
  }

  get trackedFlows(): number {
    return this.core.trackedFlows;
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

  // ---- capture input ----

  get captureFormat(): 'pcap' | 'pcapng' | undefined {
    return this.core.captureFormat;
  }

  /** True once the capture framing is lost; later input is ignored. */
  get stopped(): boolean {
    return this.core.stopped;
  }

  /** Packets framed so far. */
  get packetsFramed(): number {
    return this.core.packets;
  }

  /** The next chunk of a capture (pcap or pcapng, any chunking). Throws DecodeError('bad_magic') for input that is not a capture. */
  feed(chunk: Uint8Array): void {
    this.core.feed(chunk);
  }

  /** Room in the core for a read of the capture; then `filled`. */
  room(): Buffer {
    return this.core.room();
  }

  filled(n: number): void {
    this.core.filled(n);
  }

  /** Two read slots instead of one room (PacketCore.useReadSlots): a read fills one while the other is framed. */
  useReadSlots(chunk: number): void {
    this.core.useReadSlots(chunk);
  }

  /** Where a read of slot `k` goes; then `takeSlot(k)`, after which the other slot may be read into, and `frameSlot(k, n)`. */
  slot(k: number): Buffer {
    return this.core.slot(k);
  }

  takeSlot(k: number): void {
    this.core.takeSlot(k);
  }

  frameSlot(k: number, n: number): void {
    this.core.frameSlot(k, n);
  }

  /** End of the capture input (not of the flows: see `finish`). Throws when no capture header came. */
  endOfInput(): void {
    this.core.end(() => this.counts.count(this.counts.errors, 'truncated_record'));
  }

  /** One captured packet framed elsewhere. Never throws on packet content. */
  packet(linktype: number, tsMs: number, data: Buffer, wireLength: number, start = 0, end = data.length): void {
    this.core.packet(linktype, tsMs, data, wireLength, start, end);
  }

  /** A flow opened in the core: its endpoints as text, its name from DNS answers. */
  private opened(slot: number): void {
    const v = this.core.i32;
    const proto = v[V.proto]!;
    const sp = v[V.srcPort]!;
    const dp = v[V.dstPort]!;
    // The initiator sent the first packet, except that a SYN-ACK comes from the responder.
    const reversed = v[V.reversed] === 1;
    let srcText: string;
    let dstText: string;
    let from: Endpoint;
    let to: Endpoint;
    let serverKey: number | string;
    const v6 = v[V.ipVersion] === 6;
    if (!v6) {
      const s = this.core.u32[V.srcV4]!;
      const d = this.core.u32[V.dstV4]!;
      srcText = this.ipv4Text.text(s);
      dstText = this.ipv4Text.text(d);
      from = s * 65536 + sp;
      to = d * 65536 + dp;
      serverKey = reversed ? s : d;
    } else {
      const bytes = this.core.bytes;
      const so = this.core.u32[V.srcOff]!;
      const dOff = this.core.u32[V.dstOff]!;
      // The 16 address bytes as text: the DNS names' key, and with the port the endpoint's.
      const s = bytes.toString('latin1', so, so + 16);
      const d = bytes.toString('latin1', dOff, dOff + 16);
      srcText = this.ipv6Texts.get(bytes, so, so + 16);
      dstText = this.ipv6Texts.get(bytes, dOff, dOff + 16);
      from = s + String.fromCharCode(sp);
      to = d + String.fromCharCode(dp);
      serverKey = reversed ? s : d;
    }
    const flow = reversed ? new Flow(slot, proto, v6, to, from, dstText, dp, srcText, sp) : new Flow(slot, proto, v6, from, to, srcText, sp, dstText, dp);
    // No DNS answer seen yet (a capture without DNS): no address key to look up.
    if (this.dnsNames.size > 0) flow.serverName = this.dnsNames.get(serverKey, this.core.packetTime);
    this.flows[slot] = flow;
  }

  /** A payload packet of a flow under inspection that a matcher may take, as the core decoded it. */
  private inspectPacket(slot: number, outbound: boolean, kind: number): void {
    const view = this.view;
    readDecoded(this.core, view, this.core.bytes, 0);
    const flow = this.flows[slot]!;
    const inspection = (flow.inspection ??= new Inspection());
    if (kind === INSPECT.head) this.inspectHead(flow, inspection, view, outbound);
    else this.inspectUdp(flow, inspection, view, view.payload(), outbound);
  }

  // ---- identification ----

  /** The flow's identification state goes, its stream heads' bytes back to the budget. */
  private dropInspection(flow: Flow): void {
    if (flow.inspection !== undefined) this.headBytes -= flow.inspection.heldBytes();
    flow.inspection = undefined;
  }

  /** What the flow is identified as, told to the core too (its screening depends on it). */
  private setApp(flow: Flow, app: AppEvidence): void {
    flow.app = app;
    let bits: number = APP.known;
    if (app.name === 'bittorrent') bits |= APP.bittorrent | (app.via === 'tracker' ? APP.viaTracker : app.via === 'udp_tracker' ? APP.viaUdpTracker : 0);
    this.core.setApp(flow.slot, bits);
  }

  /** Mark the flow BitTorrent (`via` the first evidence): with info hashes, and the peer id at [peerIdAt, peerIdEnd) of `peerId`. */
  private markBitTorrent(flow: Flow, via: BitTorrentVia, infoHashes: readonly string[] | string = NO_HASHES, peerId?: Buffer, peerIdAt = 0, peerIdEnd = peerId?.length ?? 0): AppEvidence {
    let app = flow.app;
    let first = false;
    if (app === undefined || app.name !== 'bittorrent') {
      app = { name: 'bittorrent', via };
      this.setApp(flow, app);
      first = true;
    }
    const hadHash = app.infoHash !== undefined;
    if (typeof infoHashes === 'string') addInfoHash(app, infoHashes);
    else for (const h of infoHashes) addInfoHash(app, h);
    if (peerId !== undefined && app.peerId === undefined) {
      const described = this.describePeerId(peerId, peerIdAt, peerIdEnd);
      app.peerId = described.printable;
      if (described.client !== undefined) app.client = described.client;
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

  /** The peer id at [at, end) of `buf` as records carry it: a client reconnecting sends the same id, described once. */
  private describePeerId(buf: Buffer, at: number, end: number): PeerIdText {
    return this.peerIds.get(buf, at, end);
  }

  /** Remember a swarm peer; without a hash of its own it keeps the one it was known with. */
  private rememberPeer(endpoint: Endpoint, infoHash: string | undefined): void {
    const now = this.core.now;
    this.knownPeers.set(endpoint, infoHash ?? this.knownPeers.get(endpoint, now) ?? '', now);
  }

  /** A name of a BitTorrent vendor's service (weak evidence, as nDPI's host list). */
  private checkName(flow: Flow, name: string | undefined): void {
    if (name !== undefined && flow.app?.name !== 'bittorrent' && isBitTorrentServiceName(name)) this.markBitTorrent(flow, 'server_name');
  }

  private learnPeers(entries: readonly Buffer[], infoHash: string | undefined): void {
    for (const e of entries) this.rememberPeer(compactEndpoint(e), infoHash);
  }

  /** The next in-order segment of a stream head still collecting (the core keeps the order). */
  private inspectHead(flow: Flow, insp: Inspection, view: PacketView, outbound: boolean): void {
    const len = outbound ? insp.headOutLen : insp.headInLen;
    if (len === 0) {
      // Most streams are decided by their first segment: copy only when a matcher waits.
      const payload = view.payload();
      if (this.matchHead(flow, insp, outbound, payload)) this.appendHead(flow, insp, outbound, payload);
    } else {
      this.appendHead(flow, insp, outbound, view.payload());
      const head = outbound ? insp.headOut : insp.headIn;
      if (head !== undefined) this.matchHead(flow, insp, outbound, head.subarray(0, outbound ? insp.headOutLen : insp.headInLen));
    }
  }

  /**
   * A handshake at [at, end) of `buf` (the core's memory or a stream head, not kept) marks the
   * flow, with the info hash and peer id it has. Returns `handshakeLength` of those bytes.
   */
  private markHandshake(flow: Flow, via: 'handshake' | 'utp', buf: Buffer, at: number, end: number): number {
    const length = handshakeLength(buf, at, end);
    if (length <= 0) return length;
    const infoHash = length >= HANDSHAKE_WITH_HASH ? this.infoHashTexts.get(buf, at + 28, at + 48) : NO_HASHES;
    if (length >= HANDSHAKE_FULL) this.markBitTorrent(flow, via, infoHash, buf, at + 48, at + 68);
    else this.markBitTorrent(flow, via, infoHash);
    return length;
  }

  /** A ClientHello and its server name ('' when it names none). */
  private onClientHello(flow: Flow, sni: ServerName): void {
    if (flow.app === undefined) this.setApp(flow, { name: 'tls' });
    if (sni.text) flow.serverName = sni.text;
    if (sni.bitTorrentService && flow.app?.name !== 'bittorrent') this.markBitTorrent(flow, 'server_name');
  }

  /** The server name at [at, at + length) of the core's bytes, lower-cased. */
  private serverName(at: number, length: number): ServerName {
    return this.serverNames.get(this.core.bytes, at, at + length);
  }

  private appendHead(flow: Flow, insp: Inspection, outbound: boolean, payload: Buffer): void {
    let head = outbound ? insp.headOut : insp.headIn;
    const len = outbound ? insp.headOutLen : insp.headInLen;
    const room = MAX_HEAD - len;
    if (room <= 0) return;
    const take = Math.min(room, payload.length);
    if (head === undefined || head.length < len + take) {
      const size = Math.min(MAX_HEAD, Math.max(256, (len + take) * 2));
      // Stream heads share one memory budget: past it, streams go uninspected (counted).
      if (this.headBytes + size - (head?.length ?? 0) > this.maxHeadBytes) {
        this.counts.count(this.counts.skipped, 'inspect_budget');
        this.finishHead(flow, insp, outbound);
        return;
      }
      if (head === undefined) this.core.setHead(flow.slot, outbound, HEAD.held);
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

  private finishHead(flow: Flow, insp: Inspection, outbound: boolean): void {
    this.core.setHead(flow.slot, outbound, HEAD.done);
    if (outbound) {
      this.headBytes -= insp.headOut?.length ?? 0;
      insp.headOut = undefined;
    } else {
      this.headBytes -= insp.headIn?.length ?? 0;
      insp.headIn = undefined;
    }
  }

  /** Run the stream matchers on the head of one direction; true while one waits for more bytes. */
  private matchHead(flow: Flow, insp: Inspection, outbound: boolean, head: Buffer): boolean {
    const full = head.length >= MAX_HEAD;
    let waiting = false;

    const hs = this.markHandshake(flow, 'handshake', head, 0, head.length);
    if (hs > 0) {
      if (hs >= HANDSHAKE_FULL) {
        this.finishHead(flow, insp, outbound);
        return false;
      }
      return true;
    }
    if (hs === 0) waiting = true;

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
        this.onClientHello(flow, { text: tls.sni, bitTorrentService: isBitTorrentServiceName(tls.sni) });
        this.finishHead(flow, insp, outbound);
        return false;
      }
      if (tls === 'wait') waiting = true;
    } else if (flow.app?.name === 'bittorrent' && flow.app.via === 'tracker') {
      const peers = trackerResponsePeers(head);
      if (peers.length > 0) {
        this.learnPeers(peers, flow.app.infoHash);
        this.finishHead(flow, insp, outbound);
        return false;
      }
      waiting = true;
    }
    if (!waiting || full) {
      this.finishHead(flow, insp, outbound);
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
      if (flow.app === undefined) this.setApp(flow, { name: 'http' });
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
      this.onUtp(flow, insp, utp.type, utp.connectionId, outbound, payload, utp.dataOffset, payload.length);
      return;
    }
    if (view.srcPort === 53 || view.dstPort === 53 || view.srcPort === 5353 || view.dstPort === 5353 || view.srcPort === 5355 || view.dstPort === 5355) {
      const dns = parseDns(payload);
      if (dns !== undefined) {
        if (flow.app === undefined) this.setApp(flow, { name: 'dns' });
        this.checkName(flow, dns.question);
        for (const a of dns.answers) {
          const key = a.address.length === 4 ? a.address.readUInt32BE(0) : a.address.toString('latin1');
          this.dnsNames.set(key, a.name, this.core.now);
        }
      }
    }
  }

  /** A uTP datagram whose header the core read (no earlier matcher takes it). */
  private onUtpDatagram(flow: Flow, outbound: boolean, type: number, connectionId: number, dataAt: number): void {
    const end = this.core.u32[V.payloadOff]! + this.core.i32[V.payloadLen]!;
    this.onUtp(flow, (flow.inspection ??= new Inspection()), type, connectionId, outbound, this.core.bytes, dataAt, end);
  }

  /** A uTP header, the datagram's data after it at [dataAt, end) of `buf`. */
  private onUtp(flow: Flow, insp: Inspection, type: number, connectionId: number, outbound: boolean, buf: Buffer, dataAt: number, end: number): void {
    // BEP 29: the SYN carries the initiator's receive id; the responder sends with that id and
    // the initiator sends with id + 1. Two ends agreeing on that is the evidence.
    if (outbound) {
      if (type === 4) insp.utpSynId = connectionId;
      else if (insp.utpIdOut < 0) insp.utpIdOut = connectionId;
    } else if (insp.utpIdIn < 0) insp.utpIdIn = connectionId;
    const synAnswered = insp.utpSynId >= 0 && insp.utpIdIn === insp.utpSynId;
    const idsAgree = insp.utpIdOut >= 0 && insp.utpIdIn >= 0 && ((insp.utpIdIn + 1) & 0xffff) === insp.utpIdOut;
    if (synAnswered || idsAgree) this.markBitTorrent(flow, 'utp');
    if (flow.app?.name === 'bittorrent' && type === 0) this.markHandshake(flow, 'utp', buf, dataAt, end);
  }

  // ---- ending flows ----

  /** Advance packet time without a packet (used by live sources when the link is quiet). */
  advance(tsMs: number): void {
    this.core.advance(tsMs);
  }

  /** End of input: every flow still tracked becomes a record. */
  finish(): void {
    this.core.finish();
  }

  /** The core's call: the record of `slot` is due (`reason` -1: none, the flow had no packets since the last); `final`: the flow is gone. */
  private ended(slot: number, reason: number, final: boolean): void {
    const flow = this.flows[slot]!;
    if (final) {
      // The core has freed the slot: only this side's state goes.
      this.flows[slot] = undefined;
      this.dropInspection(flow);
    }
    if (reason >= 0) this.emit(flow, END_REASONS[reason]!, final);
  }

  /** The info hash a known swarm peer at either end was seen with ('' unknown), or undefined. */
  private knownPeerHash(flow: Flow): string | undefined {
    if (this.knownPeers.size === 0) return undefined;
    const now = this.core.now;
    return this.knownPeers.get(flow.responder, now) ?? (flow.proto === 17 ? this.knownPeers.get(flow.initiator, now) : undefined);
  }

  /** Append the flow's record (the core zeroes its counters after); `final` when the flow is gone, so its evidence is handed over, not copied. */
  private emit(flow: Flow, reason: EndReason, final: boolean): void {
    const stats = this.counts;
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
    const at = this.core.slotOffset(flow.slot);
    const f64 = this.core.f64;
    const u32 = this.core.u32;
    const f = at / 8;
    const u = at / 4;
    // Every key the record will carry, in this order, from the start (undefined when unknown,
    // enrichment's last three included): all flow records share one shape, which keeps every
    // later stage's property reads monomorphic. JSON leaves the undefined keys out.
    const record: FlowRecord = {
      ts: Math.floor(f64[f + SLOT_F64.ts]!),
      tsEnd: Math.floor(f64[f + SLOT_F64.tsEnd]!),
      src: flow.src,
      srcPort: flow.srcPort,
      dst: flow.dst,
      dstPort: flow.dstPort,
      proto: flow.proto,
      bytesOut: f64[f + SLOT_F64.bytesOut]!,
      bytesIn: f64[f + SLOT_F64.bytesIn]!,
      packetsOut: u32[u + SLOT_U32.packetsOut]!,
      packetsIn: u32[u + SLOT_U32.packetsIn]!,
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
  }
}
