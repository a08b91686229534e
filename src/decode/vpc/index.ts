import { DecodeError } from '../../errors.js';
import type { FlowRecord, SourceRef } from '../../record.js';
import { parseIPv4, parseIPv6 } from '../../util/ip.js';
import type { LineDecoder } from '../types.js';

// AWS VPC Flow Logs. Lines are space-separated; the field order is the default (version 2,
// extended by the v3–v5 fields in AWS's documented order) unless a header line of field names
// says otherwise. Hot path: ~1M lines/s, so fields are located by scanning character codes
// and only the addresses are sliced out of the line.
//
// Lines that carry no transfer produce no record and are counted by reason:
//   nodata / skipdata  log-status NODATA (no traffic in the window) / SKIPDATA (records lost)
//   rejected           action REJECT: the security group or NACL dropped it, nothing left
//   no_timestamp       a custom format without `start` (e.g. the NAT gateway example)

/** v2 default order, then the v3, v4 and v5 fields in the order AWS lists them. */
export const DEFAULT_FIELDS = [
  'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol',
  'packets', 'bytes', 'start', 'end', 'action', 'log-status',
  'vpc-id', 'subnet-id', 'instance-id', 'tcp-flags', 'type', 'pkt-srcaddr', 'pkt-dstaddr',
  'region', 'az-id', 'sublocation-type', 'sublocation-id',
  'pkt-src-aws-service', 'pkt-dst-aws-service', 'flow-direction', 'traffic-path',
] as const;

/** Every field name AWS defines (v2–v8), to recognise a header line. */
const KNOWN_FIELDS = new Set<string>([
  ...DEFAULT_FIELDS,
  'ecs-cluster-arn', 'ecs-cluster-name', 'ecs-container-instance-arn', 'ecs-container-instance-id',
  'ecs-container-id', 'ecs-second-container-id', 'ecs-service-name', 'ecs-task-definition-arn',
  'ecs-task-arn', 'ecs-task-id', 'reject-reason', 'resource-id', 'encryption-status',
]);

const V2_FIELD_COUNT = 14;
const MAX_FIELDS = 64;

interface VpcLayout {
  /** Exact field count for a header-defined layout; 0 for the default (14 or more). */
  exactCount: number;
  srcaddr: number;
  dstaddr: number;
  srcport: number;
  dstport: number;
  protocol: number;
  packets: number;
  bytes: number;
  start: number;
  end: number;
  action: number;
  logStatus: number;
  pktSrcaddr: number;
  pktDstaddr: number;
}

function layoutOf(names: readonly string[], exactCount: number): VpcLayout {
  const at = (name: string) => names.indexOf(name);
  return {
    exactCount,
    srcaddr: at('srcaddr'),
    dstaddr: at('dstaddr'),
    srcport: at('srcport'),
    dstport: at('dstport'),
    protocol: at('protocol'),
    packets: at('packets'),
    bytes: at('bytes'),
    start: at('start'),
    end: at('end'),
    action: at('action'),
    logStatus: at('log-status'),
    pktSrcaddr: at('pkt-srcaddr'),
    pktDstaddr: at('pkt-dstaddr'),
  };
}

const DEFAULT_LAYOUT = layoutOf(DEFAULT_FIELDS, 0);

/** Some exporters (Athena, Firehose) write the names with `_`; AWS itself uses `-`. */
function fieldName(token: string): string {
  return token.toLowerCase().replace(/_/g, '-');
}

/** A header is a line of field names only: no digit anywhere, first token a known name. */
function headerNames(line: string): string[] | undefined {
  if (/[0-9]/.test(line)) return undefined;
  const names = line.trim().split(/[ \t]+/).map(fieldName);
  if (names.length === 0 || !KNOWN_FIELDS.has(names[0]!)) return undefined;
  return names;
}

const DASH = 45;

class VpcDecoder implements LineDecoder {
  readonly format = 'vpc';
  private readonly source: SourceRef;
  private layout: VpcLayout = DEFAULT_LAYOUT;
  private readonly starts = new Int32Array(MAX_FIELDS);
  private readonly ends = new Int32Array(MAX_FIELDS);
  /** Fields on the current line: the default layout's v3+ fields may be absent. */
  private count = 0;

  constructor(sourceId: string) {
    this.source = { type: 'vpc', id: sourceId };
  }

  decodeLine(line: string, out: FlowRecord[]): void {
    const first = line.charCodeAt(0);
    if (!(first >= 48 && first <= 57) && this.tryHeader(line)) return;
    const count = this.split(line);
    this.count = count;
    if (count === 0) return;
    const layout = this.layout;
    if (layout.exactCount > 0 ? count !== layout.exactCount : count < V2_FIELD_COUNT) {
      throw new DecodeError('field_count', `${count} fields`);
    }
    const starts = this.starts;
    const ends = this.ends;

    // What the line says about itself comes first: an empty window is not a broken line.
    const status = layout.logStatus;
    if (status >= 0) {
      const s = starts[status]!;
      const c = line.charCodeAt(s);
      if (c === 78 /* N */ && line.startsWith('NODATA', s)) throw new DecodeError('nodata');
      if (c === 83 /* S */ && line.startsWith('SKIPDATA', s)) throw new DecodeError('skipdata');
    }
    if (layout.action >= 0) {
      const s = starts[layout.action]!;
      if (line.charCodeAt(s) === 82 /* R */ && line.startsWith('REJECT', s)) throw new DecodeError('rejected');
    }

    if (layout.start < 0) throw new DecodeError('no_timestamp');
    const start = numberAt(line, starts[layout.start]!, ends[layout.start]!);
    if (start === -2) throw new DecodeError('no_timestamp');
    if (start < 0) throw new DecodeError('bad_timestamp');
    let end = start;
    if (layout.end >= 0) {
      end = numberAt(line, starts[layout.end]!, ends[layout.end]!);
      if (end === -2) end = start;
      else if (end < 0) throw new DecodeError('bad_timestamp');
    }

    const src = this.address(line, layout.pktSrcaddr, layout.srcaddr);
    const dst = this.address(line, layout.pktDstaddr, layout.dstaddr);
    const proto = this.optionalNumber(line, layout.protocol, 'bad_proto');
    if (proto > 255) throw new DecodeError('bad_proto');
    const srcPort = this.optionalNumber(line, layout.srcport, 'bad_port');
    const dstPort = this.optionalNumber(line, layout.dstport, 'bad_port');
    if (srcPort > 65535 || dstPort > 65535) throw new DecodeError('bad_port');

    out.push({
      ts: start * 1000,
      tsEnd: end * 1000,
      src,
      srcPort,
      dst,
      dstPort,
      proto,
      // One direction per line: the enricher orients it around the internal host.
      bytesOut: this.optionalNumber(line, layout.bytes, 'bad_number'),
      bytesIn: 0,
      packetsOut: this.optionalNumber(line, layout.packets, 'bad_number'),
      packetsIn: 0,
      source: this.source,
    });
  }

  /** Field boundaries into `starts`/`ends`; runs of blanks count as one separator. */
  private split(line: string): number {
    const starts = this.starts;
    const ends = this.ends;
    const n = line.length;
    let count = 0;
    let i = 0;
    for (;;) {
      while (i < n) {
        const c = line.charCodeAt(i);
        if (c !== 32 && c !== 9) break;
        i++;
      }
      if (i >= n) return count;
      if (count === MAX_FIELDS) throw new DecodeError('field_count', 'too many fields');
      starts[count] = i;
      let j = line.indexOf(' ', i);
      if (j < 0) j = n;
      const tab = line.indexOf('\t', i);
      if (tab >= 0 && tab < j) j = tab;
      ends[count++] = j;
      i = j;
    }
  }

  private tryHeader(line: string): boolean {
    const names = headerNames(line);
    if (!names) return false;
    if (names.length > MAX_FIELDS) throw new DecodeError('bad_header', 'too many fields');
    const layout = layoutOf(names, names.length);
    const hasSrc = layout.srcaddr >= 0 || layout.pktSrcaddr >= 0;
    const hasDst = layout.dstaddr >= 0 || layout.pktDstaddr >= 0;
    if (!hasSrc || !hasDst) throw new DecodeError('bad_header', 'header names no source or destination address');
    this.layout = layout;
    return true;
  }

  /** The packet-level address when the format has it (NAT gateways, ENIs of other resources). */
  private address(line: string, preferred: number, fallback: number): string {
    let index = -1;
    if (preferred >= 0 && preferred < this.count && !isDash(line, this.starts[preferred]!, this.ends[preferred]!)) index = preferred;
    else if (fallback >= 0) index = fallback;
    if (index < 0) throw new DecodeError('missing_field', 'no address');
    const s = this.starts[index]!;
    const e = this.ends[index]!;
    if (isDash(line, s, e)) throw new DecodeError('missing_field', 'address is -');
    const text = line.slice(s, e);
    if (parseIPv4(text) >= 0) return text;
    if (text.includes(':') && parseIPv6(text) !== undefined) return text;
    throw new DecodeError('bad_address');
  }

  /** A count field; 0 when the format lacks it or it is `-`. */
  private optionalNumber(line: string, index: number, reason: string): number {
    if (index < 0 || index >= this.count) return 0;
    const n = numberAt(line, this.starts[index]!, this.ends[index]!);
    if (n === -2) return 0;
    if (n < 0) throw new DecodeError(reason);
    return n;
  }
}

function isDash(line: string, s: number, e: number): boolean {
  return e - s === 1 && line.charCodeAt(s) === DASH;
}

/** A non-negative decimal in line[s, e); -2 for `-`, -1 when not a number. */
function numberAt(line: string, s: number, e: number): number {
  if (e - s === 1 && line.charCodeAt(s) === DASH) return -2;
  if (e <= s || e - s > 16) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const c = line.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** AWS VPC Flow Logs: default v2 format, or the field order of a header line. */
export function createVpcDecoder(sourceId: string): LineDecoder & { readonly format: string } {
  return new VpcDecoder(sourceId);
}
