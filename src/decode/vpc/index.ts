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

// One error object per reason, made once: a stack trace per rejected line would cost more than
// decoding it, and the reader only looks at `reason`.
const rejections = new Map<string, DecodeError>();
function rejection(reason: string): DecodeError {
  let err = rejections.get(reason);
  if (!err) {
    err = new DecodeError(reason);
    rejections.set(reason, err);
  }
  return err;
}

type Latin1Buffer = Buffer & { latin1Slice?: (start: number, end: number) => string };
/** Node's own fast path behind toString('latin1'), when present. */
const latin1 = typeof (Buffer.prototype as Latin1Buffer).latin1Slice === 'function'
  ? (buf: Buffer, s: number, e: number) => (buf as Latin1Buffer).latin1Slice!(s, e)
  : (buf: Buffer, s: number, e: number) => buf.toString('latin1', s, e);

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
    const bytes = Buffer.from(line, 'utf8');
    this.decodeFields(bytes, 0, bytes.length, out);
  }

  /**
   * The hot path: decode `buf[start, end)` without making a string of the line. Only the two
   * addresses become strings, fresh ones (a slice of a big chunk would keep the chunk alive).
   */
  decodeBytes(buf: Buffer, start: number, end: number, out: FlowRecord[]): void {
    const first = buf[start]!;
    if (!(first >= 48 && first <= 57)) {
      // A header line, or a custom format led by a text field: rare, take the text path.
      this.decodeLine(buf.toString('utf8', start, end), out);
      return;
    }
    this.decodeFields(buf, start, end, out);
  }

  private decodeFields(buf: Buffer, lineStart: number, lineEnd: number, out: FlowRecord[]): void {
    const count = this.split(buf, lineStart, lineEnd);
    this.count = count;
    if (count === 0) return;
    const layout = this.layout;
    if (layout.exactCount > 0 ? count !== layout.exactCount : count < V2_FIELD_COUNT) {
      throw rejection('field_count');
    }
    const starts = this.starts;
    const ends = this.ends;

    // What the line says about itself comes first: an empty window is not a broken line.
    const status = layout.logStatus;
    if (status >= 0) {
      const s = starts[status]!;
      const e = ends[status]!;
      const c = buf[s];
      if (c === 78 /* N */ && bytesAre(buf, s, e, NODATA)) throw rejection('nodata');
      if (c === 83 /* S */ && bytesAre(buf, s, e, SKIPDATA)) throw rejection('skipdata');
    }
    if (layout.action >= 0) {
      const s = starts[layout.action]!;
      if (buf[s] === 82 /* R */ && bytesAre(buf, s, ends[layout.action]!, REJECT)) throw rejection('rejected');
    }

    if (layout.start < 0) throw rejection('no_timestamp');
    const start = numberAt(buf, starts[layout.start]!, ends[layout.start]!);
    if (start === -2) throw rejection('no_timestamp');
    if (start < 0) throw rejection('bad_timestamp');
    let end = start;
    if (layout.end >= 0) {
      end = numberAt(buf, starts[layout.end]!, ends[layout.end]!);
      if (end === -2) end = start;
      else if (end < 0) throw rejection('bad_timestamp');
    }

    const src = this.address(buf, layout.pktSrcaddr, layout.srcaddr);
    const dst = this.address(buf, layout.pktDstaddr, layout.dstaddr);
    const proto = this.optionalNumber(buf, layout.protocol, 'bad_proto');
    if (proto > 255) throw rejection('bad_proto');
    const srcPort = this.optionalNumber(buf, layout.srcport, 'bad_port');
    const dstPort = this.optionalNumber(buf, layout.dstport, 'bad_port');
    if (srcPort > 65535 || dstPort > 65535) throw rejection('bad_port');

    out.push({
      ts: start * 1000,
      tsEnd: end * 1000,
      src,
      srcPort,
      dst,
      dstPort,
      proto,
      // One direction per line: the enricher orients it around the internal host.
      bytesOut: this.optionalNumber(buf, layout.bytes, 'bad_number'),
      bytesIn: 0,
      packetsOut: this.optionalNumber(buf, layout.packets, 'bad_number'),
      packetsIn: 0,
      source: this.source,
    });
  }

  /** Field boundaries into `starts`/`ends`; runs of blanks count as one separator. */
  private split(buf: Buffer, from: number, to: number): number {
    const starts = this.starts;
    const ends = this.ends;
    let count = 0;
    let i = from;
    for (;;) {
      while (i < to) {
        const c = buf[i];
        if (c !== 32 && c !== 9) break;
        i++;
      }
      if (i >= to) return count;
      if (count === MAX_FIELDS) throw rejection('field_count');
      starts[count] = i;
      while (i < to) {
        const c = buf[i];
        if (c === 32 || c === 9) break;
        i++;
      }
      ends[count++] = i;
    }
  }

  private tryHeader(line: string): boolean {
    const names = headerNames(line);
    if (!names) return false;
    if (names.length > MAX_FIELDS) throw rejection('bad_header');
    const layout = layoutOf(names, names.length);
    const hasSrc = layout.srcaddr >= 0 || layout.pktSrcaddr >= 0;
    const hasDst = layout.dstaddr >= 0 || layout.pktDstaddr >= 0;
    if (!hasSrc || !hasDst) throw rejection('bad_header');
    this.layout = layout;
    return true;
  }

  /** The packet-level address when the format has it (NAT gateways, ENIs of other resources). */
  private address(buf: Buffer, preferred: number, fallback: number): string {
    let index = -1;
    if (preferred >= 0 && preferred < this.count && !isDash(buf, this.starts[preferred]!, this.ends[preferred]!)) index = preferred;
    else if (fallback >= 0) index = fallback;
    if (index < 0) throw rejection('missing_field');
    const s = this.starts[index]!;
    const e = this.ends[index]!;
    if (isDash(buf, s, e)) throw rejection('missing_field');
    if (e - s > 45) throw rejection('bad_address');
    const text = latin1(buf, s, e);
    if (parseIPv4(text) >= 0) return text;
    if (text.includes(':') && parseIPv6(text) !== undefined) return text;
    throw rejection('bad_address');
  }

  /** A count field; 0 when the format lacks it or it is `-`. */
  private optionalNumber(buf: Buffer, index: number, reason: string): number {
    if (index < 0 || index >= this.count) return 0;
    const n = numberAt(buf, this.starts[index]!, this.ends[index]!);
    if (n === -2) return 0;
    if (n < 0) throw rejection(reason);
    return n;
  }
}

const NODATA = Buffer.from('NODATA');
const SKIPDATA = Buffer.from('SKIPDATA');
const REJECT = Buffer.from('REJECT');

function bytesAre(buf: Buffer, s: number, e: number, word: Buffer): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (buf[s + i] !== word[i]) return false;
  return true;
}

function isDash(buf: Buffer, s: number, e: number): boolean {
  return e - s === 1 && buf[s] === DASH;
}

/** A non-negative decimal in buf[s, e); -2 for `-`, -1 when not a number. */
function numberAt(buf: Buffer, s: number, e: number): number {
  if (e - s === 1 && buf[s] === DASH) return -2;
  if (e <= s || e - s > 16) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]! - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** A line decoder that can also read a line straight from the bytes of a chunk. */
export interface ByteLineDecoder extends LineDecoder {
  readonly format: string;
  decodeBytes(buf: Buffer, start: number, end: number, out: FlowRecord[]): void;
}

/** AWS VPC Flow Logs: default v2 format, or the field order of a header line. */
export function createVpcDecoder(sourceId: string): ByteLineDecoder {
  return new VpcDecoder(sourceId);
}
