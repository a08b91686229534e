import { DecodeError } from '../../errors.js';
import { PROTO_ICMP, PROTO_ICMPV6, protoNumber, type AppEvidence, type FlowRecord, type SourceRef } from '../../record.js';
import { parseIPv4, parseIPv6 } from '../../util/ip.js';
import type { LineDecoder } from '../types.js';

// Zeek conn.log in its two on-disk forms: TSV whose `#fields` header names the columns (the
// header may change mid-file, after `#close` or with a new `#fields`), and JSON lines.

/** A LineDecoder that also names its format (used for metric labels). */
export interface NamedLineDecoder extends LineDecoder {
  readonly format: string;
}

/** Column positions of the fields we map; -1 when the header does not carry the field. */
interface ConnLayout {
  fieldCount: number;
  ts: number;
  origH: number;
  origP: number;
  respH: number;
  respP: number;
  proto: number;
  ipProto: number;
  service: number;
  duration: number;
  origBytes: number;
  respBytes: number;
  origPkts: number;
  respPkts: number;
  origIpBytes: number;
  respIpBytes: number;
}

const REQUIRED_FIELDS = ['ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p'];

function layoutOf(fields: string[]): ConnLayout | undefined {
  for (const f of REQUIRED_FIELDS) if (!fields.includes(f)) return undefined;
  const at = (name: string) => fields.indexOf(name);
  return {
    fieldCount: fields.length,
    ts: at('ts'),
    origH: at('id.orig_h'),
    origP: at('id.orig_p'),
    respH: at('id.resp_h'),
    respP: at('id.resp_p'),
    proto: at('proto'),
    ipProto: at('ip_proto'),
    service: at('service'),
    duration: at('duration'),
    origBytes: at('orig_bytes'),
    respBytes: at('resp_bytes'),
    origPkts: at('orig_pkts'),
    respPkts: at('resp_pkts'),
    origIpBytes: at('orig_ip_bytes'),
    respIpBytes: at('resp_ip_bytes'),
  };
}

/** Zeek writes non-printable header values as `\xHH`. */
function unescapeZeek(text: string): string {
  return text.replace(/\\x([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A non-negative decimal integer, or -1. */
function parseCount(text: string): number {
  if (text.length === 0 || text.length > 16) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** Seconds as a non-negative decimal (`1521911721.255387`), or NaN. */
function parseSeconds(text: string): number {
  if (text.length === 0) return NaN;
  const c = text.charCodeAt(0);
  if (c < 48 || c > 57) return NaN;
  const n = Number(text);
  return n >= 0 ? n : NaN;
}

/**
 * A copy that does not point into the line. V8 makes substrings of 13+ characters views of
 * their parent: an address kept by detection state would otherwise keep the whole decoded
 * block of lines alive. Slicing a fresh concatenation copies just these characters.
 */
function detach(text: string): string {
  return text.length < 13 ? text : (' ' + text).slice(1);
}

function checkAddress(text: string): string {
  if (parseIPv4(text) >= 0) return detach(text);
  if (text.includes(':') && parseIPv6(text) !== undefined) return detach(text);
  throw new DecodeError('bad_address', `not an IP address: ${text.slice(0, 64)}`);
}

function checkPort(n: number): number {
  if (n < 0 || n > 65535) throw new DecodeError('bad_port');
  return n;
}

/**
 * Protocol evidence from Zeek's `service` set: the first analyzer that confirmed the protocol.
 * Zeek 6.1+ lists analyzers that later failed with a leading `-`; those are not evidence.
 */
export function appFromService(service: string | undefined, setSeparator = ','): AppEvidence | undefined {
  if (!service) return undefined;
  // Usual case: one confirmed analyzer, no set to split.
  if (!service.includes(setSeparator) && service.charCodeAt(0) !== 45 /* - */) return appNamed(service.trim().toLowerCase());
  for (const raw of service.split(setSeparator)) {
    const name = raw.trim().toLowerCase();
    if (name === '' || name.startsWith('-')) continue;
    return appNamed(name);
  }
  return undefined;
}

function appNamed(name: string): AppEvidence | undefined {
  switch (name) {
    case '':
      return undefined;
    case 'ssl':
      return { name: 'tls' };
    case 'http':
      return { name: 'http' };
    case 'dns':
      return { name: 'dns' };
    case 'bittorrent':
      return { name: 'bittorrent', via: 'handshake' };
    case 'bittorrenttracker':
      return { name: 'bittorrent', via: 'tracker' };
    default:
      return { name: detach(name) };
  }
}

interface ConnFacts {
  tsSeconds: number;
  durationSeconds: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  proto: number;
  bytesOut: number;
  bytesIn: number;
  packetsOut: number;
  packetsIn: number;
  app: AppEvidence | undefined;
}

function toRecord(f: ConnFacts, source: SourceRef): FlowRecord {
  const rec: FlowRecord = {
    ts: Math.round(f.tsSeconds * 1000),
    tsEnd: Math.round((f.tsSeconds + f.durationSeconds) * 1000),
    src: f.src,
    srcPort: f.srcPort,
    dst: f.dst,
    dstPort: f.dstPort,
    proto: f.proto,
    bytesOut: f.bytesOut,
    bytesIn: f.bytesIn,
    packetsOut: f.packetsOut,
    packetsIn: f.packetsIn,
    source,
  };
  if (f.app) rec.app = f.app;
  return rec;
}

class ZeekDecoder implements NamedLineDecoder {
  readonly format = 'zeek';
  private readonly source: SourceRef;
  private separator = '\t';
  private setSeparator = ',';
  private emptyField = '(empty)';
  private unsetField = '-';
  private layout: ConnLayout | undefined;
  /** Why there is no usable layout (a header we refused), for the data lines that follow. */
  private noLayoutReason = 'no_header';
  private starts = new Int32Array(32);
  private ends = new Int32Array(32);

  constructor(sourceId: string) {
    this.source = { type: 'zeek', id: sourceId };
  }

  decodeLine(line: string, out: FlowRecord[]): void {
    const first = line.charCodeAt(0);
    if (first === 35 /* # */) return this.header(line);
    if (first === 123 /* { */) {
      out.push(this.decodeJson(line));
      return;
    }
    if (line.trim() === '') return;
    out.push(this.decodeTsv(line));
  }

  private header(line: string): void {
    if (line.startsWith('#separator ')) {
      const sep = unescapeZeek(line.slice('#separator '.length));
      if (sep.length === 0) throw new DecodeError('bad_header', 'empty #separator');
      this.separator = sep;
      return;
    }
    const sepAt = line.indexOf(this.separator);
    if (sepAt < 0) return; // `#close` without a value, comments
    const name = line.slice(1, sepAt);
    const rest = line.slice(sepAt + this.separator.length);
    switch (name) {
      case 'set_separator':
        this.setSeparator = rest;
        return;
      case 'empty_field':
        this.emptyField = rest;
        return;
      case 'unset_field':
        this.unsetField = rest;
        return;
      case 'path':
        // Other Zeek logs carry addresses too, but no connection volumes: not ours.
        if (rest !== 'conn' && !rest.startsWith('conn_') && !rest.startsWith('conn-')) {
          this.layout = undefined;
          this.noLayoutReason = 'not_conn_log';
        } else {
          this.noLayoutReason = 'no_header';
        }
        return;
      case 'fields': {
        if (this.noLayoutReason === 'not_conn_log') return;
        const layout = layoutOf(rest.split(this.separator));
        this.layout = layout;
        if (!layout) {
          this.noLayoutReason = 'bad_header';
          throw new DecodeError('bad_header', '#fields lacks ts or id.* fields');
        }
        return;
      }
      case 'close':
        this.layout = undefined;
        this.noLayoutReason = 'no_header';
        return;
      default:
        return;
    }
  }

  private decodeTsv(line: string): FlowRecord {
    const layout = this.layout;
    if (!layout) throw new DecodeError(this.noLayoutReason);
    const sep = this.separator;
    if (this.starts.length < layout.fieldCount) {
      this.starts = new Int32Array(layout.fieldCount);
      this.ends = new Int32Array(layout.fieldCount);
    }
    const starts = this.starts;
    const ends = this.ends;
    // Field boundaries only: just the columns we map become strings.
    let count = 0;
    let pos = 0;
    for (;;) {
      const next = line.indexOf(sep, pos);
      if (count === layout.fieldCount) throw new DecodeError('field_count');
      starts[count] = pos;
      if (next < 0) {
        ends[count++] = line.length;
        break;
      }
      ends[count++] = next;
      pos = next + sep.length;
    }
    if (count !== layout.fieldCount) throw new DecodeError('field_count');

    const field = (i: number): string => line.slice(starts[i]!, ends[i]!);
    const unset = this.unsetField;
    const empty = this.emptyField;
    const text = (i: number): string | undefined => {
      if (i < 0) return undefined;
      const v = field(i);
      return v === unset || v === empty || v === '' ? undefined : v;
    };
    const count_ = (i: number): number | undefined => {
      const v = text(i);
      if (v === undefined) return undefined;
      const n = parseCount(v);
      if (n < 0) throw new DecodeError('bad_number', `not a count: ${v.slice(0, 32)}`);
      return n;
    };

    const tsSeconds = parseSeconds(field(layout.ts));
    if (Number.isNaN(tsSeconds)) throw new DecodeError('bad_timestamp');
    const durationText = text(layout.duration);
    const durationSeconds = durationText === undefined ? 0 : parseSeconds(durationText);
    if (Number.isNaN(durationSeconds)) throw new DecodeError('bad_timestamp', 'bad duration');
    const src = checkAddress(field(layout.origH));
    const dst = checkAddress(field(layout.respH));
    const srcPort = checkPort(parseCount(field(layout.origP)));
    const dstPort = checkPort(parseCount(field(layout.respP)));

    return toRecord(
      {
        tsSeconds,
        durationSeconds,
        src,
        srcPort,
        dst,
        dstPort,
        proto: protoOf(text(layout.proto), count_(layout.ipProto), src),
        bytesOut: count_(layout.origBytes) ?? count_(layout.origIpBytes) ?? 0,
        bytesIn: count_(layout.respBytes) ?? count_(layout.respIpBytes) ?? 0,
        packetsOut: count_(layout.origPkts) ?? 0,
        packetsIn: count_(layout.respPkts) ?? 0,
        app: appFromService(text(layout.service), this.setSeparator),
      },
      this.source,
    );
  }

  private decodeJson(line: string): FlowRecord {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new DecodeError('bad_json');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DecodeError('bad_json', 'not an object');
    const obj = parsed as Record<string, unknown>;
    // Zeek writes flat dotted keys (`id.orig_h`); some shippers nest them under `id`.
    const id = typeof obj.id === 'object' && obj.id !== null ? (obj.id as Record<string, unknown>) : undefined;
    const field = (flat: string, nested?: string): unknown => obj[flat] ?? (nested && id ? id[nested] : undefined);
    const count_ = (key: string): number | undefined => {
      const v = obj[key];
      if (v === undefined || v === null || v === '-') return undefined;
      const n = typeof v === 'number' ? v : typeof v === 'string' ? parseCount(v) : -1;
      if (!Number.isInteger(n) || n < 0) throw new DecodeError('bad_number', `${key} is not a count`);
      return n;
    };
    const port = (v: unknown): number => {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? parseCount(v) : -1;
      if (!Number.isInteger(n)) throw new DecodeError('bad_port');
      return checkPort(n);
    };
    const address = (v: unknown): string => {
      if (typeof v !== 'string') throw new DecodeError('bad_address', 'address missing');
      return checkAddress(v);
    };

    const tsSeconds = jsonSeconds(obj.ts);
    if (Number.isNaN(tsSeconds)) throw new DecodeError('bad_timestamp');
    const duration = obj.duration;
    const durationSeconds = duration === undefined || duration === null ? 0 : typeof duration === 'number' ? duration : parseSeconds(String(duration));
    if (!(durationSeconds >= 0)) throw new DecodeError('bad_timestamp', 'bad duration');
    const service = obj.service;
    const serviceText = typeof service === 'string' ? service : Array.isArray(service) ? service.filter((s) => typeof s === 'string').join(',') : undefined;
    const proto = typeof obj.proto === 'string' ? obj.proto : undefined;
    const src = address(field('id.orig_h', 'orig_h'));

    return toRecord(
      {
        tsSeconds,
        durationSeconds,
        src,
        srcPort: port(field('id.orig_p', 'orig_p')),
        dst: address(field('id.resp_h', 'resp_h')),
        dstPort: port(field('id.resp_p', 'resp_p')),
        proto: protoOf(proto, count_('ip_proto'), src),
        bytesOut: count_('orig_bytes') ?? count_('orig_ip_bytes') ?? 0,
        bytesIn: count_('resp_bytes') ?? count_('resp_ip_bytes') ?? 0,
        packetsOut: count_('orig_pkts') ?? 0,
        packetsIn: count_('resp_pkts') ?? 0,
        app: appFromService(serviceText),
      },
      this.source,
    );
  }
}

/**
 * `ip_proto` (current Zeek) wins; else the transport name, where Zeek says `icmp` for ICMPv6
 * too; 0 when Zeek did not know the transport.
 */
function protoOf(proto: string | undefined, ipProto: number | undefined, src: string): number {
  if (ipProto !== undefined) {
    if (ipProto > 255) throw new DecodeError('bad_number', 'ip_proto out of range');
    return ipProto;
  }
  if (proto === undefined) return 0;
  const n = protoNumber(proto) ?? 0;
  return n === PROTO_ICMP && src.includes(':') ? PROTO_ICMPV6 : n;
}

/** JSON `ts`: seconds (float), milliseconds (integer, `JSON::TS_MILLIS`) or ISO 8601 text. */
function jsonSeconds(v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) return NaN;
    return v > 1e11 ? v / 1000 : v;
  }
  if (typeof v !== 'string' || v.length === 0) return NaN;
  const numeric = parseSeconds(v);
  if (!Number.isNaN(numeric) && !v.includes('-')) return numeric;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? NaN : ms / 1000;
}

/** Zeek conn.log, TSV (with `#fields` header) or JSON lines. */
export function createZeekDecoder(sourceId: string): NamedLineDecoder {
  return new ZeekDecoder(sourceId);
}
