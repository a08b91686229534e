// Builds NetFlow v9 / IPFIX datagrams field by field, for the template edge-case tests, the
// fuzz seeds and the benchmark's traffic generator. Layouts follow RFC 3954 and RFC 7011.

export class ByteWriter {
  private bytes: number[] = [];
  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(Math.floor(v / 65536) & 0xffff).u16(v & 0xffff);
  }
  u64(v: number): this {
    return this.u32(Math.floor(v / 4294967296)).u32(v % 4294967296);
  }
  ipv4(text: string): this {
    for (const part of text.split('.')) this.u8(Number(part));
    return this;
  }
  /** Full (uncompressed) IPv6 text only: eight groups. */
  ipv6(groups: readonly number[]): this {
    for (const g of groups) this.u16(g);
    return this;
  }
  raw(data: ArrayLike<number>): this {
    for (let i = 0; i < data.length; i++) this.u8(data[i]!);
    return this;
  }
  get length(): number {
    return this.bytes.length;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** A field specifier: element id, length, and an enterprise number when not IANA. */
export type Field = [id: number, length: number, enterprise?: number];

export function set(id: number, body: Uint8Array): Uint8Array {
  return new ByteWriter().u16(id).u16(body.length + 4).raw(body).done();
}

export function templateRecord(id: number, fields: readonly Field[]): Uint8Array {
  const w = new ByteWriter().u16(id).u16(fields.length);
  for (const [fid, len, pen] of fields) {
    if (pen) w.u16(fid | 0x8000).u16(len).u32(pen);
    else w.u16(fid).u16(len);
  }
  return w.done();
}

export function ipfixOptionsTemplateRecord(id: number, scope: readonly Field[], fields: readonly Field[]): Uint8Array {
  const w = new ByteWriter().u16(id).u16(scope.length + fields.length).u16(scope.length);
  for (const [fid, len, pen] of [...scope, ...fields]) {
    if (pen) w.u16(fid | 0x8000).u16(len).u32(pen);
    else w.u16(fid).u16(len);
  }
  return w.done();
}

/** v9 options template: scope fields use scope types (1 System, 2 Interface...). */
export function v9OptionsTemplateRecord(id: number, scope: readonly Field[], fields: readonly Field[]): Uint8Array {
  const w = new ByteWriter().u16(id).u16(scope.length * 4).u16(fields.length * 4);
  for (const [fid, len] of [...scope, ...fields]) w.u16(fid).u16(len);
  return w.done();
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function ipfixMessage(domain: number, exportSecs: number, sets: readonly Uint8Array[], sequence = 0): Uint8Array {
  const body = concat(sets);
  return concat([new ByteWriter().u16(10).u16(body.length + 16).u32(exportSecs).u32(sequence).u32(domain).done(), body]);
}

export function v9Packet(sourceId: number, sysUptime: number, unixSecs: number, sets: readonly Uint8Array[], sequence = 0): Uint8Array {
  const body = concat(sets);
  return concat([
    new ByteWriter().u16(9).u16(sets.length).u32(sysUptime).u32(unixSecs).u32(sequence).u32(sourceId).done(),
    body,
  ]);
}

/** IANA element ids used by the builders' callers. */
export const IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  flowEndSysUpTime: 21,
  flowStartSysUpTime: 22,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  samplingInterval: 34,
  samplerId: 48,
  octetTotalCount: 85,
  packetTotalCount: 86,
  flowStartSeconds: 150,
  flowEndSeconds: 151,
  flowStartMilliseconds: 152,
  flowEndMilliseconds: 153,
  flowStartMicroseconds: 154,
  systemInitTimeMilliseconds: 160,
  selectorId: 302,
  samplingPacketInterval: 305,
  samplingPacketSpace: 306,
} as const;

/** The IPFIX flow layout the benchmark generator sends: 5-tuple, counters, ms times. */
export const BENCH_IPFIX_FIELDS: readonly Field[] = [
  [IE.sourceIPv4Address, 4],
  [IE.destinationIPv4Address, 4],
  [IE.sourceTransportPort, 2],
  [IE.destinationTransportPort, 2],
  [IE.protocolIdentifier, 1],
  [IE.octetDeltaCount, 8],
  [IE.packetDeltaCount, 8],
  [IE.flowStartMilliseconds, 8],
  [IE.flowEndMilliseconds, 8],
];
export const BENCH_IPFIX_RECORD_LENGTH = 45;

/** An IPFIX IPv6 flow layout: addresses, total counters, start in seconds (44 bytes a record). */
export const IPV6_FLOW_FIELDS: readonly Field[] = [
  [IE.sourceIPv6Address, 16],
  [IE.destinationIPv6Address, 16],
  [IE.octetTotalCount, 8],
  [IE.packetTotalCount, 8],
  [IE.flowStartSeconds, 4],
];

/** One IPFIX data set of `count` bench records with varying addresses; `seed` varies them. */
export function benchIpfixDataSet(templateId: number, count: number, seed: number, startMs: number): Uint8Array {
  const w = new ByteWriter();
  for (let i = 0; i < count; i++) {
    const n = seed * count + i;
    w.u8(10).u8((n >>> 16) & 0xff).u8((n >>> 8) & 0xff).u8(n & 0xff);
    w.u8(198).u8(51).u8(100).u8(n & 0xff);
    w.u16(1024 + (n % 50000)).u16(443).u8(6);
    w.u64(1000 + (n % 100000)).u64(1 + (n % 100));
    w.u64(startMs + (n % 1000)).u64(startMs + 1000 + (n % 1000));
  }
  return set(templateId, w.done());
}
