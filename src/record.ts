// The normalized record: every source produces it (DESIGN.md). Add fields, never rename.

export type SourceType = 'netflow' | 'ipfix' | 'pcap' | 'squid' | 'zeek' | 'vpc' | 'syslog';

export interface SourceRef {
  /** Which input produced the record. */
  type: SourceType;
  /** Exporter address, sensor name or file the record came from. */
  id: string;
}

export type BitTorrentVia =
  | 'handshake'
  | 'dht'
  | 'utp'
  | 'tracker'
  | 'udp_tracker'
  | 'lsd'
  | 'magnet'
  | 'torrent_file'
  | 'user_agent'
  | 'known_peer'
  /** A BitTorrent vendor name (SNI, HTTP Host, DNS question) only: weak evidence. */
  | 'server_name';

export interface AppEvidence {
  /** `bittorrent`, `http`, `tls`, `dns`, ... */
  name: string;
  /** BitTorrent info hash, 40 lowercase hex characters. */
  infoHash?: string;
  /** Further info hashes seen in the same flow (DHT, multi-torrent trackers). */
  infoHashes?: string[];
  /** BitTorrent peer id as printable text (client prefix such as `-TR3000-`). */
  peerId?: string;
  /** Client name derived from the peer id or user agent. */
  client?: string;
  via?: BitTorrentVia;
  /** Tracker URL or host for tracker announces. */
  tracker?: string;
}

export interface RemoteEndpoint {
  ip: string;
  port: number;
  /** Name when known: SNI, HTTP Host, proxy URL host, DNS answer. */
  name?: string;
}

export interface ApprovalRef {
  /** `name` of the approved-sources entry. */
  name: string;
  owner: string;
  /** True when the entry matched but its expiry has passed: it no longer applies. */
  expired: boolean;
  /** How it matched: `cidr`, `domain`, `url_prefix`, `info_hash`, `tracker`. */
  matchedBy: string;
}

/** What a proxy request fetched, as facts for the object-pattern signals. */
export interface ObjectFacts {
  /** `media`, `archive`, `disk_image`, `document`, `torrent`, `executable`, `other`. */
  kind: string;
  /** URL without query string, lowercased host: the same object fetched by several hosts. */
  key: string;
  /** Sequential naming: `file-0042.jpg` → stem `host/path/file-#.jpg`, n 42. */
  sequence?: { stem: string; n: number };
}

export interface FlowRecord {
  /** First packet / request time, epoch milliseconds (event time). */
  ts: number;
  /** Last packet / response time, epoch milliseconds. */
  tsEnd: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** IANA protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6...). */
  proto: number;
  /** Before enrichment: bytes src→dst. After: bytes host→remote. */
  bytesOut: number;
  /** Before enrichment: bytes dst→src. After: bytes remote→host. */
  bytesIn: number;
  packetsOut: number;
  packetsIn: number;
  /** Name of the responder (`dst`) when the decoder saw it: SNI, HTTP Host, URL host. */
  serverName?: string;
  /** Internal endpoint, set by enrichment. */
  host?: string;
  /** External endpoint, set by enrichment. */
  remote?: RemoteEndpoint;
  app?: AppEvidence;
  user?: string;
  url?: string;
  method?: string;
  status?: number;
  contentType?: string;
  userAgent?: string;
  object?: ObjectFacts;
  source: SourceRef;
  /** Approved source matched by enrichment; null when none matched. */
  approval?: ApprovalRef | null;
}

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMP = 1;
export const PROTO_ICMPV6 = 58;

const PROTO_BY_NAME: Record<string, number> = {
  tcp: PROTO_TCP,
  udp: PROTO_UDP,
  icmp: PROTO_ICMP,
  icmp6: PROTO_ICMPV6,
  ipv6_icmp: PROTO_ICMPV6,
  'ipv6-icmp': PROTO_ICMPV6,
  gre: 47,
  esp: 50,
  sctp: 132,
};

/** Protocol name or number as text to the IANA number; undefined when unknown. */
export function protoNumber(text: string): number | undefined {
  const byName = PROTO_BY_NAME[text.toLowerCase()];
  if (byName !== undefined) return byName;
  const n = Number(text);
  return Number.isInteger(n) && n >= 0 && n <= 255 && text !== '' ? n : undefined;
}
