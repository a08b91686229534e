// What the generator produces: format-neutral connections and proxy requests, and the labels.

export type Transport = 'tcp' | 'udp';

/** One connection as a sensor on the gateway saw it, oriented around the internal host. */
export interface Conn {
  /** Start, epoch ms. */
  ts: number;
  durationMs: number;
  host: string;
  hostPort: number;
  remote: string;
  remotePort: number;
  proto: Transport;
  /** True when the host opened the connection (it is Zeek's originator). */
  hostOriginated: boolean;
  bytesOut: number;
  bytesIn: number;
  packetsOut: number;
  packetsIn: number;
  /** Zeek `service` when its analyzers would name one (`ssl`, `http`, `dns`). */
  service?: string;
  /** Label of the activity that produced it (kept out of every emitted format). */
  activity: ActivityName;
}

/** One request through the forward proxy (Squid native access.log). */
export interface ProxyRequest {
  /** Request start, epoch ms (Squid logs completion time = ts + elapsedMs). */
  ts: number;
  elapsedMs: number;
  host: string;
  user: string;
  method: 'GET' | 'POST' | 'PUT' | 'CONNECT' | 'HEAD';
  url: string;
  status: number;
  /** Reply bytes to the client. */
  bytes: number;
  /** Bytes the client sent (not in native format; kept for the baseline). */
  bytesOut: number;
  remoteIp: string;
  contentType: string;
  /** Client user agent (only the combined logformat carries it). */
  userAgent: string;
  activity: ActivityName;
}

export type ActivityName =
  | 'browsing'
  | 'video_call'
  | 'os_update'
  | 'backup'
  | 'ci_pull'
  | 'delivery_optimization'
  | 'iperf'
  | 'large_download'
  | 'dns'
  | 'bittorrent'
  | 'mass_download'
  | 'scraper'
  | 'slow_crawler';

export type LabelKind = 'bittorrent' | 'bulk_acquisition';

export interface Label {
  host: string;
  kind: LabelKind;
  technique: 'bt_client' | 'mass_download' | 'scraper' | 'slow_crawler';
  /** ISO-8601 event times of the labelled activity. */
  start: string;
  end: string;
  /** Swarm id when the host belongs to a labelled swarm. */
  swarm?: string;
  detail: Record<string, string | number | string[]>;
}

export interface SwarmLabel {
  id: string;
  /** Kind of the underlying acquisition: a shared torrent or a shared unapproved source. */
  kind: LabelKind;
  hosts: string[];
  /** Info hash or unapproved source name the members share. */
  key: string;
  start: string;
  end: string;
}

export type HostRole = 'workstation' | 'server' | 'ci_runner' | 'lab';

export interface GroundTruth {
  seed: number;
  start: string;
  end: string;
  days: number;
  hosts: { ip: string; role: HostRole; user: string }[];
  /** Hosts with no labelled activity at all. */
  benign_hosts: string[];
  labels: Label[];
  swarms: SwarmLabel[];
  /** Benign look-alike activities present, with the hosts that carry them (for reading a false incident). */
  lookalikes: Record<string, string[]>;
}

export interface Corpus {
  conns: Conn[];
  requests: ProxyRequest[];
  truth: GroundTruth;
}
