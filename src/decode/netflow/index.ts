import type { DatagramDecoder } from '../types.js';
import type { FlowRecord, SourceRef } from '../../record.js';
import { ROLE_COUNT, Role } from './fields.js';
import { formatIPv6At } from '../../util/ip.js';
import { ipv4Text } from './ip-text.js';
import { TimeKind, planFor, type RecordPlan } from './plan.js';
import { TemplateCache, VARIABLE_LENGTH, compileTemplate, type FieldSpec, type FlowTemplate } from './templates.js';

// NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) datagrams → FlowRecords.
// Pure: bytes in, records appended to the caller's array, anomalies counted by reason in
// `stats`. A datagram never throws out of `decode`; a bad one only costs its own records.

export type NetflowAnomaly =
  | 'short_packet'
  | 'unknown_version'
  | 'bad_length'
  | 'bad_set_length'
  | 'bad_set_id'
  | 'bad_template'
  | 'no_template'
  | 'waiting_full'
  | 'truncated_record'
  | 'no_addresses'
  | 'no_time_reference'
  | 'malformed';

export const NETFLOW_ANOMALIES: readonly NetflowAnomaly[] = [
  'short_packet',
  'unknown_version',
  'bad_length',
  'bad_set_length',
  'bad_set_id',
  'bad_template',
  'no_template',
  'waiting_full',
  'truncated_record',
  'no_addresses',
  'no_time_reference',
  'malformed',
];

export type FlowVersion = 'v5' | 'v9' | 'ipfix';

/** Plain counters, read by the source's metrics on collect (nothing is labelled per record). */
export class NetflowStats {
  packets: Record<FlowVersion, number> = { v5: 0, v9: 0, ipfix: 0 };
  records: Record<FlowVersion, number> = { v5: 0, v9: 0, ipfix: 0 };
  templatesReceived = 0;
  optionsTemplatesReceived = 0;
  templatesWithdrawn = 0;
  /** Refreshes whose layout differed from the template they replaced. */
  templatesChanged = 0;
  /** Data sets that waited for their template and were decoded once it came. */
  waitedSetsDecoded = 0;
  errors = Object.fromEntries(NETFLOW_ANOMALIES.map((r) => [r, 0])) as Record<NetflowAnomaly, number>;
}

export interface NetflowDecoderOptions {
  /** Templates held across all exporters; the least recently refreshed go first. */
  maxTemplates: number;
  /** A template not refreshed for this long is dropped (ms). */
  templateTimeoutMs: number;
  /** Exporters tracked (sampling, system init time, last seen); least recently seen go first. */
  maxExporters: number;
  /** How long a data set may wait for its template (ms). */
  waitingTimeoutMs: number;
  maxWaitingSets: number;
  maxWaitingBytes: number;
}

export const DEFAULT_DECODER_OPTIONS: NetflowDecoderOptions = {
  maxTemplates: 4096,
  templateTimeoutMs: 30 * 60_000,
  maxExporters: 1024,
  waitingTimeoutMs: 10_000,
  maxWaitingSets: 512,
  maxWaitingBytes: 4 * 1024 * 1024,
};

const MAX_SAMPLERS_PER_DOMAIN = 256;
const SWEEP_EVERY_MS = 1000;
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** Per observation domain (IPFIX) / source id (v9): facts learned from options data. */
interface DomainState {
  samplerRates: Map<number, number>;
  defaultRate: number;
  /** systemInitTimeMilliseconds, for IPFIX flowStart/EndSysUpTime; NaN until known. */
  systemInitMs: number;
}

export interface ExporterState {
  readonly address: string;
  lastSeen: number;
  readonly netflowSource: SourceRef;
  readonly ipfixSource: SourceRef;
  readonly domains: Map<number, DomainState>;
}

/** What a data set needs besides its bytes: the header it came with. */
interface SetContext {
  version: FlowVersion;
  /** v9: unix_secs × 1000; IPFIX: export time × 1000. */
  exportMs: number;
  /** v9 sysUptime (ms). */
  sysUptime: number;
  domain: DomainState;
  source: SourceRef;
}

interface WaitingSet {
  key: string;
  body: Uint8Array;
  ctx: SetContext;
  heldAt: number;
}

export class NetflowDecoder implements DatagramDecoder {
  readonly stats = new NetflowStats();
  readonly templates: TemplateCache;
  private readonly options: NetflowDecoderOptions;
  private readonly exporters = new Map<string, ExporterState>();
  private waiting: WaitingSet[] = [];
  private waitingBytes = 0;
  private lastSweep = Number.NEGATIVE_INFINITY;
  private now = 0;
  // Offsets of one variable-length record, reused for every such record.
  private readonly varOffsets = new Int32Array(ROLE_COUNT);
  private readonly varLengths = new Int32Array(ROLE_COUNT);

  constructor(options: Partial<NetflowDecoderOptions> = {}) {
    this.options = { ...DEFAULT_DECODER_OPTIONS, ...options };
    this.templates = new TemplateCache(this.options.maxTemplates);
  }

  /** Data sets currently waiting for a template. */
  get waitingSets(): number {
    return this.waiting.length;
  }

  get exporterCount(): number {
    return this.exporters.size;
  }

  /** Exporters by recency, oldest first (bounded by `maxExporters`). */
  exporterStates(): IterableIterator<ExporterState> {
    return this.exporters.values();
  }

  decode(data: Uint8Array, meta: { exporter: string; receivedAt: number }, out: FlowRecord[]): void {
    this.now = meta.receivedAt;
    if (meta.receivedAt - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(meta.receivedAt);
    try {
      this.decodePacket(data, meta.exporter, out);
    } catch {
      // Bounds are checked before every read; this is the last line against a DataView RangeError.
      this.stats.errors.malformed++;
    }
  }

  /** Expire templates and data that waited too long. Called by `decode` and the source's timer. */
  sweep(now: number): void {
    this.lastSweep = now;
    this.templates.expire(now - this.options.templateTimeoutMs);
    if (this.waiting.length > 0) {
      const cutoff = now - this.options.waitingTimeoutMs;
      const kept = this.waiting.filter((w) => w.heldAt >= cutoff);
      this.dropWaiting(this.waiting.length - kept.length);
      this.waiting = kept;
      this.waitingBytes = kept.reduce((n, w) => n + w.body.length, 0);
    }
  }

  /** End of input (replay): whatever still waits for a template is counted and dropped. */
  finish(): void {
    this.dropWaiting(this.waiting.length);
    this.waiting = [];
    this.waitingBytes = 0;
  }

  private dropWaiting(n: number): void {
    this.stats.errors.no_template += n;
  }

  private exporter(address: string): ExporterState {
    let state = this.exporters.get(address);
    if (state) {
      // Keep the map in recency order so eviction takes the longest silent exporter.
      this.exporters.delete(address);
    } else {
      state = {
        address,
        lastSeen: 0,
        netflowSource: { type: 'netflow', id: address },
        ipfixSource: { type: 'ipfix', id: address },
        domains: new Map(),
      };
      if (this.exporters.size >= this.options.maxExporters) {
        const oldest = this.exporters.keys().next().value as string;
        this.exporters.delete(oldest);
      }
    }
    state.lastSeen = this.now;
    this.exporters.set(address, state);
    return state;
  }

  private domain(exporter: ExporterState, id: number): DomainState {
    let d = exporter.domains.get(id);
    if (!d) {
      d = { samplerRates: new Map(), defaultRate: 1, systemInitMs: Number.NaN };
      if (exporter.domains.size < 1024) exporter.domains.set(id, d);
    }
    return d;
  }

  private decodePacket(data: Uint8Array, exporterAddress: string, out: FlowRecord[]): void {
    if (data.length < 4) {
      this.stats.errors.short_packet++;
      return;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const version = view.getUint16(0);
    if (version === 5) this.decodeV5(view, data, exporterAddress, out);
    else if (version === 9) this.decodeV9(view, data, exporterAddress, out);
    else if (version === 10) this.decodeIpfix(view, data, exporterAddress, out);
    else this.stats.errors.unknown_version++;
  }

  // NetFlow v5: 24-byte header, 48-byte fixed records, sampling interval in the header.
  private decodeV5(view: DataView, data: Uint8Array, exporterAddress: string, out: FlowRecord[]): void {
    if (data.length < 24) {
      this.stats.errors.short_packet++;
      return;
    }
    const count = view.getUint16(2);
    const available = Math.floor((data.length - 24) / 48);
    if (count > available || count === 0) this.stats.errors.bad_length++;
    const n = Math.min(count, available);
    const exporter = this.exporter(exporterAddress);
    this.stats.packets.v5++;
    const sysUptime = view.getUint32(4);
    const baseMs = view.getUint32(8) * 1000 + Math.floor(view.getUint32(12) / 1e6);
    const interval = view.getUint16(22) & 0x3fff;
    const rate = interval > 1 ? interval : 1;
    const source = exporter.netflowSource;
    for (let i = 0, p = 24; i < n; i++, p += 48) {
      // First/Last are sysUptime values; the signed 32-bit difference survives uptime wrap.
      const first = view.getUint32(p + 24);
      const last = view.getUint32(p + 28);
      const ts = baseMs - ((sysUptime - first) | 0);
      const tsEnd = baseMs - ((sysUptime - last) | 0);
      out.push({
        ts,
        tsEnd: tsEnd >= ts ? tsEnd : ts,
        src: ipv4Text(data, p),
        srcPort: view.getUint16(p + 32),
        dst: ipv4Text(data, p + 4),
        dstPort: view.getUint16(p + 34),
        proto: data[p + 38]!,
        bytesOut: view.getUint32(p + 20) * rate,
        bytesIn: 0,
        packetsOut: view.getUint32(p + 16) * rate,
        packetsIn: 0,
        source,
      });
    }
    this.stats.records.v5 += n;
  }

  private decodeV9(view: DataView, data: Uint8Array, exporterAddress: string, out: FlowRecord[]): void {
    if (data.length < 20) {
      this.stats.errors.short_packet++;
      return;
    }
    const exporter = this.exporter(exporterAddress);
    this.stats.packets.v9++;
    const domainId = view.getUint32(16);
    const ctx: SetContext = {
      version: 'v9',
      sysUptime: view.getUint32(4),
      exportMs: view.getUint32(8) * 1000,
      domain: this.domain(exporter, domainId),
      source: exporter.netflowSource,
    };
    this.decodeSets(view, data, 20, data.length, exporter, domainId, ctx, out);
  }

  private decodeIpfix(view: DataView, data: Uint8Array, exporterAddress: string, out: FlowRecord[]): void {
    if (data.length < 16) {
      this.stats.errors.short_packet++;
      return;
    }
    const length = view.getUint16(2);
    if (length < 16 || length > data.length) {
      this.stats.errors.bad_length++;
      return;
    }
    // Trailing bytes past the message length belong to nothing: counted, not read.
    if (length < data.length) this.stats.errors.bad_length++;
    const exporter = this.exporter(exporterAddress);
    this.stats.packets.ipfix++;
    const domainId = view.getUint32(12);
    const ctx: SetContext = {
      version: 'ipfix',
      sysUptime: 0,
      exportMs: view.getUint32(4) * 1000,
      domain: this.domain(exporter, domainId),
      source: exporter.ipfixSource,
    };
    this.decodeSets(view, data, 16, length, exporter, domainId, ctx, out);
  }

  private decodeSets(
    view: DataView,
    data: Uint8Array,
    start: number,
    end: number,
    exporter: ExporterState,
    domainId: number,
    ctx: SetContext,
    out: FlowRecord[],
  ): void {
    const ipfix = ctx.version === 'ipfix';
    const prefix = `${exporter.address}/${domainId}/`;
    let p = start;
    while (end - p >= 4) {
      const setId = view.getUint16(p);
      const setLength = view.getUint16(p + 2);
      if (setLength < 4 || p + setLength > end) {
        this.stats.errors.bad_set_length++;
        return;
      }
      const body = p + 4;
      const bodyEnd = p + setLength;
      if (setId >= 256) {
        const key = prefix + setId;
        const template = this.templates.get(key);
        if (template) this.decodeDataSet(template, view, data, body, bodyEnd, ctx, out);
        else this.hold(key, data, body, bodyEnd, ctx);
      } else if (setId === (ipfix ? 2 : 0)) {
        this.decodeTemplateSet(view, body, bodyEnd, prefix, ipfix, false, data, out);
      } else if (setId === (ipfix ? 3 : 1)) {
        this.decodeTemplateSet(view, body, bodyEnd, prefix, ipfix, true, data, out);
      } else {
        this.stats.errors.bad_set_id++;
      }
      p = bodyEnd;
    }
  }

  private decodeTemplateSet(
    view: DataView,
    start: number,
    end: number,
    prefix: string,
    ipfix: boolean,
    options: boolean,
    data: Uint8Array,
    out: FlowRecord[],
  ): void {
    let q = start;
    // v9 options template records have a 6-byte header; all others 4 (IPFIX options: 6 too).
    const headerLength = options ? 6 : 4;
    while (end - q >= 4) {
      const templateId = view.getUint16(q);
      const fieldCount = view.getUint16(q + 2);
      if (ipfix && fieldCount === 0) {
        // Withdrawal (RFC 7011 §8.1): the template id, or "all" when it is the set id itself.
        if (templateId === (options ? 3 : 2)) {
          this.stats.templatesWithdrawn += this.templates.deleteDomain(prefix, options);
        } else if (templateId >= 256 && this.templates.delete(prefix + templateId)) {
          this.stats.templatesWithdrawn++;
        } else if (templateId < 256) {
          this.stats.errors.bad_template++;
        }
        q += 4;
        continue;
      }
      if (templateId < 256) {
        // Zero padding at the end of a set is allowed; anything else is a broken record.
        if (templateId !== 0 || fieldCount !== 0) this.stats.errors.bad_template++;
        return;
      }
      if (end - q < headerLength) {
        this.stats.errors.bad_template++;
        return;
      }
      // Exporters resend templates unchanged every few packets: compare bytes, skip parsing.
      const known = this.templates.get(prefix + templateId);
      if (known && known.raw.length > 0 && sameBytes(data, q, end, known.raw)) {
        this.templates.touch(known, this.now);
        if (options) this.stats.optionsTemplatesReceived++;
        else this.stats.templatesReceived++;
        q += known.raw.length;
        continue;
      }
      let fields: FieldSpec[] | undefined;
      let v9Scope = 0;
      let next: number;
      if (options && !ipfix) {
        // v9: template id, scope length and option length in bytes, 4 bytes per field.
        const scopeLength = fieldCount;
        const optionLength = view.getUint16(q + 4);
        if (scopeLength % 4 !== 0 || optionLength % 4 !== 0 || q + 6 + scopeLength + optionLength > end) {
          this.stats.errors.bad_template++;
          return;
        }
        v9Scope = scopeLength / 4;
        fields = this.readFields(view, q + 6, end, (scopeLength + optionLength) / 4, false);
        next = q + 6 + scopeLength + optionLength;
      } else {
        const scopeCount = options ? view.getUint16(q + 4) : 0;
        if (options && (scopeCount === 0 || scopeCount > fieldCount)) {
          this.stats.errors.bad_template++;
          return;
        }
        fields = this.readFields(view, q + headerLength, end, fieldCount, ipfix);
        next = fields ? q + headerLength + this.fieldBytes(fields) : end;
      }
      const key = prefix + templateId;
      const template = fields && compileTemplate(key, templateId, fields, options, v9Scope, ipfix, this.now);
      if (!template) {
        this.stats.errors.bad_template++;
        return;
      }
      template.raw = data.slice(q, next);
      const previous = this.templates.set(template);
      if (previous && previous.layout !== template.layout) this.stats.templatesChanged++;
      if (options) this.stats.optionsTemplatesReceived++;
      else this.stats.templatesReceived++;
      if (this.waiting.length > 0) this.releaseWaiting(template, data, out);
      q = next;
    }
  }

  private fieldBytes(fields: FieldSpec[]): number {
    let n = 0;
    for (const f of fields) n += f.enterprise ? 8 : 4;
    return n;
  }

  private readFields(view: DataView, q: number, end: number, count: number, ipfix: boolean): FieldSpec[] | undefined {
    const fields: FieldSpec[] = [];
    for (let i = 0; i < count; i++) {
      if (end - q < 4) return undefined;
      let id = view.getUint16(q);
      const length = view.getUint16(q + 2);
      let enterprise = 0;
      q += 4;
      if (ipfix && id & 0x8000) {
        if (end - q < 4) return undefined;
        id &= 0x7fff;
        enterprise = view.getUint32(q);
        q += 4;
      }
      fields.push({ id, length, enterprise });
    }
    return fields;
  }

  /** Keep a copy of a data set whose template has not arrived yet, within bounds. */
  private hold(key: string, data: Uint8Array, start: number, end: number, ctx: SetContext): void {
    const size = end - start;
    if (this.waiting.length >= this.options.maxWaitingSets || this.waitingBytes + size > this.options.maxWaitingBytes) {
      this.stats.errors.waiting_full++;
      return;
    }
    this.waiting.push({ key, body: data.slice(start, end), ctx, heldAt: this.now });
    this.waitingBytes += size;
  }

  private releaseWaiting(template: FlowTemplate, _data: Uint8Array, out: FlowRecord[]): void {
    const ready = this.waiting.filter((w) => w.key === template.key);
    if (ready.length === 0) return;
    this.waiting = this.waiting.filter((w) => w.key !== template.key);
    for (const w of ready) {
      this.waitingBytes -= w.body.length;
      const view = new DataView(w.body.buffer, w.body.byteOffset, w.body.byteLength);
      this.decodeDataSet(template, view, w.body, 0, w.body.length, w.ctx, out);
      this.stats.waitedSetsDecoded++;
    }
  }

  private decodeDataSet(
    template: FlowTemplate,
    view: DataView,
    data: Uint8Array,
    start: number,
    end: number,
    ctx: SetContext,
    out: FlowRecord[],
  ): void {
    const fixed = template.fixedLength;
    let produced = 0;
    if (fixed > 0 && !template.options) {
      const plan = (template.plan ??= planFor(template));
      if (plan.family === 0) {
        const n = Math.floor((end - start) / fixed);
        this.stats.errors.no_addresses += n;
      } else {
        for (let p = start; end - p >= fixed; p += fixed) this.emitPlanned(view, data, p, plan, template, ctx, out);
        produced = Math.floor((end - start) / fixed);
      }
    } else if (fixed > 0) {
      for (let p = start; end - p >= fixed; p += fixed) {
        if (template.options) this.readOptionsRecord(view, p, template.offsets, template.roleLengths, ctx.domain);
        else if (this.emitRecord(view, data, p, template.offsets, template.roleLengths, ctx, out)) produced++;
      }
    } else {
      const offsets = this.varOffsets;
      const lengths = this.varLengths;
      let p = start;
      while (end - p >= template.minLength) {
        offsets.fill(-1);
        const next = this.locateVariableFields(template, view, p, end, offsets, lengths);
        if (next < 0) {
          this.stats.errors.truncated_record++;
          break;
        }
        if (template.options) this.readOptionsRecord(view, 0, offsets, lengths, ctx.domain);
        else if (this.emitRecord(view, data, 0, offsets, lengths, ctx, out)) produced++;
        p = next;
      }
    }
    this.stats.records[ctx.version] += produced;
  }

  /** Fill absolute offsets of each role for one record; returns the record's end, or -1. */
  private locateVariableFields(
    template: FlowTemplate,
    view: DataView,
    p: number,
    end: number,
    offsets: Int32Array,
    lengths: Int32Array,
  ): number {
    const roles = template.roles;
    const fieldLengths = template.lengths;
    for (let i = 0; i < roles.length; i++) {
      let length = fieldLengths[i]!;
      if (length === VARIABLE_LENGTH) {
        // RFC 7011 §7: one length byte, or 255 followed by a two-byte length.
        if (p >= end) return -1;
        length = view.getUint8(p);
        p += 1;
        if (length === 255) {
          if (end - p < 2) return -1;
          length = view.getUint16(p);
          p += 2;
        }
      }
      if (end - p < length) return -1;
      const role = roles[i]!;
      if (role >= 0) {
        offsets[role] = p;
        lengths[role] = length;
      }
      p += length;
    }
    return p;
  }

  private emitRecord(
    view: DataView,
    data: Uint8Array,
    base: number,
    offsets: Int32Array,
    lengths: Int32Array,
    ctx: SetContext,
    out: FlowRecord[],
  ): boolean {
    let src: string;
    let dst: string;
    let o = offsets[Role.Src4]!;
    if (o >= 0) {
      src = ipv4Text(data, base + o);
      o = offsets[Role.Dst4]!;
      dst = o >= 0 ? ipv4Text(data, base + o) : '0.0.0.0';
    } else if ((o = offsets[Role.Src6]!) >= 0) {
      src = formatIPv6At(data, base + o);
      o = offsets[Role.Dst6]!;
      dst = o >= 0 ? formatIPv6At(data, base + o) : '::';
    } else if ((o = offsets[Role.Dst4]!) >= 0) {
      src = '0.0.0.0';
      dst = ipv4Text(data, base + o);
    } else {
      this.stats.errors.no_addresses++;
      return false;
    }
    const srcPort = readFirst(view, base, offsets, lengths, Role.SrcPort, Role.UdpSrcPort, Role.TcpSrcPort);
    const dstPort = readFirst(view, base, offsets, lengths, Role.DstPort, Role.UdpDstPort, Role.TcpDstPort);
    o = offsets[Role.Proto]!;
    const proto = o >= 0 ? readUnsigned(view, base + o, lengths[Role.Proto]!) : 0;
    const rate = this.samplingRate(view, base, offsets, lengths, ctx.domain);
    const bytesOut = readFirst(view, base, offsets, lengths, Role.Bytes, Role.BytesTotal, Role.InitiatorBytes);
    const packetsOut = readFirst(view, base, offsets, lengths, Role.Packets, Role.PacketsTotal, Role.InitiatorPackets);
    const bytesIn = readFirst(view, base, offsets, lengths, Role.ReverseBytes, Role.ReverseBytesTotal, Role.ResponderBytes);
    const packetsIn = readFirst(
      view,
      base,
      offsets,
      lengths,
      Role.ReversePackets,
      Role.ReversePacketsTotal,
      Role.ResponderPackets,
    );
    let ts = this.time(view, base, offsets, lengths, ctx, true);
    let tsEnd = this.time(view, base, offsets, lengths, ctx, false);
    if (Number.isNaN(ts)) ts = Number.isNaN(tsEnd) ? ctx.exportMs : tsEnd;
    if (Number.isNaN(tsEnd) || tsEnd < ts) tsEnd = ts;
    out.push({
      ts,
      tsEnd,
      src,
      srcPort,
      dst,
      dstPort,
      proto,
      bytesOut: bytesOut * rate,
      bytesIn: bytesIn * rate,
      packetsOut: packetsOut * rate,
      packetsIn: packetsIn * rate,
      source: ctx.source,
    });
    return true;
  }

  /** emitRecord for a fixed-length template whose layout is resolved in `plan`. */
  private emitPlanned(
    view: DataView,
    data: Uint8Array,
    p: number,
    plan: RecordPlan,
    template: FlowTemplate,
    ctx: SetContext,
    out: FlowRecord[],
  ): void {
    let src: string;
    let dst: string;
    if (plan.family === 4) {
      src = ipv4Text(data, p + plan.src);
      dst = plan.dst >= 0 ? ipv4Text(data, p + plan.dst) : '0.0.0.0';
    } else if (plan.family === 6) {
      src = formatIPv6At(data, p + plan.src);
      dst = plan.dst >= 0 ? formatIPv6At(data, p + plan.dst) : '::';
    } else {
      src = '0.0.0.0';
      dst = ipv4Text(data, p + plan.dst);
    }
    const rate = plan.sampled
      ? this.samplingRate(view, p, template.offsets, template.roleLengths, ctx.domain)
      : ctx.domain.defaultRate;
    let ts = this.plannedTime(view, p, plan.startKind, plan.start, plan.startLength, ctx, true);
    let tsEnd = this.plannedTime(view, p, plan.endKind, plan.end, plan.endLength, ctx, false);
    if (Number.isNaN(ts)) ts = Number.isNaN(tsEnd) ? ctx.exportMs : tsEnd;
    if (Number.isNaN(tsEnd) || tsEnd < ts) tsEnd = ts;
    out.push({
      ts,
      tsEnd,
      src,
      srcPort: plan.srcPort >= 0 ? readUnsigned(view, p + plan.srcPort, plan.srcPortLength) : 0,
      dst,
      dstPort: plan.dstPort >= 0 ? readUnsigned(view, p + plan.dstPort, plan.dstPortLength) : 0,
      proto: plan.proto >= 0 ? data[p + plan.proto]! : 0,
      bytesOut: plan.bytes >= 0 ? readUnsigned(view, p + plan.bytes, plan.bytesLength) * rate : 0,
      bytesIn: plan.reverseBytes >= 0 ? readUnsigned(view, p + plan.reverseBytes, plan.reverseBytesLength) * rate : 0,
      packetsOut: plan.packets >= 0 ? readUnsigned(view, p + plan.packets, plan.packetsLength) * rate : 0,
      packetsIn: plan.reversePackets >= 0 ? readUnsigned(view, p + plan.reversePackets, plan.reversePacketsLength) * rate : 0,
      source: ctx.source,
    });
  }

  private plannedTime(view: DataView, p: number, kind: TimeKind, o: number, length: number, ctx: SetContext, start: boolean): number {
    switch (kind) {
      case TimeKind.Millis:
        return readUnsigned(view, p + o, length);
      case TimeKind.Seconds:
        return readUnsigned(view, p + o, length) * 1000;
      case TimeKind.Ntp:
        return (view.getUint32(p + o) - NTP_UNIX_OFFSET_S) * 1000 + Math.floor((view.getUint32(p + o + 4) * 1000) / 4294967296);
      case TimeKind.SysUptime: {
        const uptime = view.getUint32(p + o);
        if (ctx.version === 'v9') return ctx.exportMs - ((ctx.sysUptime - uptime) | 0);
        const init = ctx.domain.systemInitMs;
        if (!Number.isNaN(init)) return init + uptime;
        if (start) this.stats.errors.no_time_reference++;
        return Number.NaN;
      }
      case TimeKind.DeltaMicros:
        return ctx.exportMs - Math.floor(view.getUint32(p + o) / 1000);
      default:
        return Number.NaN;
    }
  }

  /** Event time of the flow start (or end) from whichever time element the template has. */
  private time(
    view: DataView,
    base: number,
    offsets: Int32Array,
    lengths: Int32Array,
    ctx: SetContext,
    start: boolean,
  ): number {
    let o = offsets[start ? Role.StartMillis : Role.EndMillis]!;
    if (o >= 0) return readUnsigned(view, base + o, lengths[start ? Role.StartMillis : Role.EndMillis]!);
    o = offsets[start ? Role.StartSeconds : Role.EndSeconds]!;
    if (o >= 0) return readUnsigned(view, base + o, lengths[start ? Role.StartSeconds : Role.EndSeconds]!) * 1000;
    let role = start ? Role.StartMicros : Role.EndMicros;
    o = offsets[role]!;
    if (o < 0) {
      role = start ? Role.StartNanos : Role.EndNanos;
      o = offsets[role]!;
    }
    if (o >= 0 && lengths[role] === 8) {
      // dateTimeMicroseconds/Nanoseconds are NTP timestamps: seconds since 1900 + 2^-32 fractions.
      return (view.getUint32(base + o) - NTP_UNIX_OFFSET_S) * 1000 + Math.floor((view.getUint32(base + o + 4) * 1000) / 4294967296);
    }
    o = offsets[start ? Role.FirstSwitched : Role.LastSwitched]!;
    if (o >= 0) {
      const uptime = view.getUint32(base + o);
      if (ctx.version === 'v9') return ctx.exportMs - ((ctx.sysUptime - uptime) | 0);
      const init = ctx.domain.systemInitMs;
      if (!Number.isNaN(init)) return init + uptime;
      if (start) this.stats.errors.no_time_reference++;
      return Number.NaN;
    }
    o = offsets[start ? Role.StartDeltaMicros : Role.EndDeltaMicros]!;
    if (o >= 0) return ctx.exportMs - Math.floor(view.getUint32(base + o) / 1000);
    return Number.NaN;
  }

  private samplingRate(view: DataView, base: number, offsets: Int32Array, lengths: Int32Array, domain: DomainState): number {
    const inRecord = recordRate(view, base, offsets, lengths);
    if (inRecord > 0) return inRecord;
    let o = offsets[Role.SamplerId]!;
    let role = Role.SamplerId;
    if (o < 0) {
      o = offsets[Role.SelectorId]!;
      role = Role.SelectorId;
    }
    if (o >= 0) {
      const rate = domain.samplerRates.get(readUnsigned(view, base + o, lengths[role]!));
      if (rate !== undefined) return rate;
    }
    return domain.defaultRate;
  }

  /** Options data: sampling rates per sampler and the system init time of the domain. */
  private readOptionsRecord(view: DataView, base: number, offsets: Int32Array, lengths: Int32Array, domain: DomainState): void {
    let o = offsets[Role.SystemInitMillis]!;
    if (o >= 0) domain.systemInitMs = readUnsigned(view, base + o, lengths[Role.SystemInitMillis]!);
    const rate = recordRate(view, base, offsets, lengths);
    if (rate <= 0) return;
    o = offsets[Role.SamplerId]!;
    let role = Role.SamplerId;
    if (o < 0) {
      o = offsets[Role.SelectorId]!;
      role = Role.SelectorId;
    }
    if (o >= 0 && (domain.samplerRates.size < MAX_SAMPLERS_PER_DOMAIN || domain.samplerRates.has(readUnsigned(view, base + o, lengths[role]!)))) {
      domain.samplerRates.set(readUnsigned(view, base + o, lengths[role]!), rate);
    }
    // Records without a sampler id use the latest rate the exporter announced.
    domain.defaultRate = rate;
  }
}

/** A sampling rate carried in the record itself; 0 when none. */
function recordRate(view: DataView, base: number, offsets: Int32Array, lengths: Int32Array): number {
  let o = offsets[Role.SamplingInterval]!;
  if (o >= 0) return atLeastOne(readUnsigned(view, base + o, lengths[Role.SamplingInterval]!));
  o = offsets[Role.SamplerRandomInterval]!;
  if (o >= 0) return atLeastOne(readUnsigned(view, base + o, lengths[Role.SamplerRandomInterval]!));
  o = offsets[Role.SamplingPacketInterval]!;
  if (o >= 0) {
    // Systematic count-based sampling (RFC 5476): select `interval` packets, skip `space`.
    const interval = readUnsigned(view, base + o, lengths[Role.SamplingPacketInterval]!);
    const so = offsets[Role.SamplingPacketSpace]!;
    const space = so >= 0 ? readUnsigned(view, base + so, lengths[Role.SamplingPacketSpace]!) : 0;
    return interval > 0 ? (interval + space) / interval : 1;
  }
  return 0;
}

function sameBytes(data: Uint8Array, at: number, end: number, raw: Uint8Array): boolean {
  if (end - at < raw.length) return false;
  for (let i = 0; i < raw.length; i++) if (data[at + i] !== raw[i]) return false;
  return true;
}

function atLeastOne(n: number): number {
  return n >= 1 ? n : 1;
}

function readFirst(
  view: DataView,
  base: number,
  offsets: Int32Array,
  lengths: Int32Array,
  a: Role,
  b: Role,
  c: Role,
): number {
  let o = offsets[a]!;
  if (o >= 0) return readUnsigned(view, base + o, lengths[a]!);
  o = offsets[b]!;
  if (o >= 0) return readUnsigned(view, base + o, lengths[b]!);
  o = offsets[c]!;
  if (o >= 0) return readUnsigned(view, base + o, lengths[c]!);
  return 0;
}

/** Unsigned big-endian number of 1–8 bytes (reduced-size encoding), exact up to 2^53. */
export function readUnsigned(view: DataView, o: number, length: number): number {
  switch (length) {
    case 1:
      return view.getUint8(o);
    case 2:
      return view.getUint16(o);
    case 4:
      return view.getUint32(o);
    case 8:
      return view.getUint32(o) * 4294967296 + view.getUint32(o + 4);
    default: {
      let n = 0;
      for (let i = 0; i < length; i++) n = n * 256 + view.getUint8(o + i);
      return n;
    }
  }
}
