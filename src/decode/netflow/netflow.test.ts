import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../record.js';
import { udpDatagrams } from '../../sources/netflow/pcap-frames.js';
import { sharedFixture } from '../../../test/support/env.js';
import { NetflowDecoder } from './index.js';
import { formatIPv6At } from '../../util/ip.js';
import {
  ByteWriter,
  IE,
  IPV6_FLOW_FIELDS,
  ipfixMessage,
  ipfixOptionsTemplateRecord,
  set,
  templateRecord,
  v9OptionsTemplateRecord,
  v9Packet,
  type Field,
} from './testdata/datagrams.js';

const EXPORTER = '192.0.2.1';
const T0 = 1_750_000_000_000;

async function decodeFixtures(decoder: NetflowDecoder, ...files: string[]): Promise<FlowRecord[] | undefined> {
  const out: FlowRecord[] = [];
  for (const name of files) {
    const path = sharedFixture(name);
    if (!path) return undefined;
    for await (const d of udpDatagrams(createReadStream(path))) {
      decoder.decode(d.payload, { exporter: '127.0.0.1', receivedAt: d.ts }, out);
    }
  }
  return out;
}

function pick(r: FlowRecord) {
  return {
    src: r.src,
    srcPort: r.srcPort,
    dst: r.dst,
    dstPort: r.dstPort,
    proto: r.proto,
    bytesOut: r.bytesOut,
    packetsOut: r.packetsOut,
    bytesIn: r.bytesIn,
    packetsIn: r.packetsIn,
  };
}

function errorTotal(d: NetflowDecoder): number {
  return Object.values(d.stats.errors).reduce((a, b) => a + b, 0);
}

// Expected values are Akvorado's decoder tests (outlet/flow/decoder/netflow/root_test.go) for
// the same captures, with one difference: egressd multiplies counters by the sampling rate.
describe('public fixtures (Akvorado, nDPI)', () => {
  it('NetFlow v9 options template + options data (sampling 30000) then template + data', async (ctx) => {
    const d = new NetflowDecoder();
    const out = await decodeFixtures(
      d,
      'netflow/akvorado-options-template.pcap',
      'netflow/akvorado-options-data.pcap',
      'netflow/akvorado-template.pcap',
      'netflow/akvorado-data.pcap',
    );
    if (!out) return ctx.skip();
    const flow = (src: string, srcPort: number, dst: string, dstPort: number, bytes: number) => ({
      src,
      srcPort,
      dst,
      dstPort,
      proto: 6,
      bytesOut: bytes * 30000,
      packetsOut: 30000,
      bytesIn: 0,
      packetsIn: 0,
    });
    expect(out.map(pick)).toEqual([
      flow('198.38.121.178', 443, '91.170.143.87', 19624, 1500),
      flow('198.38.121.219', 443, '88.122.57.97', 2444, 1500),
      flow('173.194.190.106', 443, '37.165.129.20', 53697, 1400),
      flow('74.125.100.234', 443, '88.120.219.117', 52300, 1448),
    ]);
    expect(d.stats.templatesReceived).toBe(1);
    expect(d.stats.optionsTemplatesReceived).toBe(1);
    expect(d.stats.packets.v9).toBe(4);
    expect(out.every((r) => r.source.type === 'netflow' && r.source.id === '127.0.0.1')).toBe(true);
    // Times: unix_secs*1000 - sysUptime + first (Akvorado: 1647285928 - 944951609 + 944948659 ms).
    expect(out[0]!.ts).toBe(1647285928000 - 944951609 + 944948659);
    expect(errorTotal(d)).toBe(0);
  });

  it('NetFlow v9 sampling interval carried in the data record', async (ctx) => {
    const d = new NetflowDecoder();
    const out = await decodeFixtures(d, 'netflow/akvorado-samplingrate-template.pcap', 'netflow/akvorado-samplingrate-data.pcap');
    if (!out) return ctx.skip();
    expect(pick(out[0]!)).toEqual({
      src: '232.131.215.65',
      srcPort: 13245,
      dst: '142.183.180.65',
      dstPort: 10907,
      proto: 6,
      bytesOut: 160 * 2048,
      packetsOut: 2048,
      bytesIn: 0,
      packetsIn: 0,
    });
  });

  it('NetFlow v5 fixed records; times from sysUptime', async (ctx) => {
    const d = new NetflowDecoder();
    const out = await decodeFixtures(d, 'netflow/akvorado-nfv5.pcap');
    if (!out) return ctx.skip();
    expect(out).toHaveLength(29);
    expect(pick(out[0]!)).toEqual({
      src: '161.202.212.212',
      srcPort: 30104,
      dst: '202.152.70.24',
      dstPort: 11963,
      proto: 6,
      bytesOut: 133,
      packetsOut: 1,
      bytesIn: 0,
      packetsIn: 0,
    });
    // Header: unix_secs 1680626679, sysUptime 2874339000; record First = Last = 2874324000.
    expect(out[0]!.ts).toBe(1680626679000 - 15000);
    expect(out[0]!.tsEnd).toBe(out[0]!.ts);
  });

  it('IPFIX biflow (ipfixprobe, RFC 5103): reverse counters become bytesIn/packetsIn', async (ctx) => {
    const d = new NetflowDecoder();
    const out = await decodeFixtures(d, 'netflow/akvorado-ipfixprobe-templates.pcap', 'netflow/akvorado-ipfixprobe-data.pcap');
    if (!out) return ctx.skip();
    const bi = (src: string, srcPort: number, dst: string, dstPort: number, proto: number, o: number[], i: number[]) => ({
      src,
      srcPort,
      dst,
      dstPort,
      proto,
      bytesOut: o[0],
      packetsOut: o[1],
      bytesIn: i[0],
      packetsIn: i[1],
    });
    expect(out.map(pick)).toEqual(
      expect.arrayContaining([
        bi('10.10.1.4', 56166, '10.10.1.1', 53, 17, [62, 1], [128, 1]),
        bi('10.10.1.20', 138, '10.10.1.255', 138, 17, [229, 1], [0, 0]),
        bi('10.10.1.4', 1470, '74.53.140.153', 25, 6, [21673, 28], [1546, 25]),
        bi('192.168.1.1', 0, '10.10.1.4', 0, 1, [2304, 4], [0, 0]),
      ]),
    );
    expect(out).toHaveLength(4);
    expect(out[0]!.source.type).toBe('ipfix');
  });

  it('nDPI netflowv9.pcap: data whose templates were never captured is held, then counted', async (ctx) => {
    const d = new NetflowDecoder();
    const out = await decodeFixtures(d, 'ndpi/non_bittorrent/netflowv9.pcap');
    if (!out) return ctx.skip();
    expect(out).toHaveLength(0);
    expect(d.stats.packets.v9).toBe(10);
    expect(d.waitingSets).toBe(23);
    d.finish();
    expect(d.waitingSets).toBe(0);
    expect(d.stats.errors.no_template).toBe(23);
  });

  it('nDPI netflow-fritz.pcap: IPFIX template with variable-length enterprise fields, options templates', async (ctx) => {
    const d = new NetflowDecoder();
    const out = await decodeFixtures(d, 'ndpi/non_bittorrent/netflow-fritz.pcap');
    if (!out) return ctx.skip();
    expect(out).toHaveLength(0);
    expect(d.stats.templatesReceived).toBe(1);
    expect(d.stats.optionsTemplatesReceived).toBe(2);
    expect(d.templates.get('127.0.0.1/262400/461')?.fixedLength).toBe(-1);
    expect(errorTotal(d)).toBe(0);
  });
});

const FLOW_FIELDS: readonly Field[] = [
  [IE.sourceIPv4Address, 4],
  [IE.destinationIPv4Address, 4],
  [IE.sourceTransportPort, 2],
  [IE.destinationTransportPort, 2],
  [IE.protocolIdentifier, 1],
  [IE.octetDeltaCount, 4],
  [IE.packetDeltaCount, 4],
  [IE.flowStartMilliseconds, 8],
  [IE.flowEndMilliseconds, 8],
];

function flowData(src: string, dst: string, bytes: number, packets: number, start = T0, end = T0 + 500): ByteWriter {
  return new ByteWriter().ipv4(src).ipv4(dst).u16(40000).u16(443).u8(6).u32(bytes).u32(packets).u64(start).u64(end);
}

function decodeAll(d: NetflowDecoder, datagrams: Uint8Array[], exporter = EXPORTER, at = T0): FlowRecord[] {
  const out: FlowRecord[] = [];
  for (const g of datagrams) d.decode(g, { exporter, receivedAt: at }, out);
  return out;
}

describe('templates', () => {
  const template = ipfixMessage(7, T0 / 1000, [set(2, templateRecord(300, FLOW_FIELDS))]);
  const data = ipfixMessage(7, T0 / 1000, [set(300, flowData('10.0.0.1', '203.0.113.9', 1234, 3).done())]);

  it('decodes IPFIX data with absolute millisecond times', () => {
    const d = new NetflowDecoder();
    const [r] = decodeAll(d, [template, data]);
    expect(r).toMatchObject({
      src: '10.0.0.1',
      dst: '203.0.113.9',
      srcPort: 40000,
      dstPort: 443,
      proto: 6,
      bytesOut: 1234,
      packetsOut: 3,
      bytesIn: 0,
      ts: T0,
      tsEnd: T0 + 500,
      source: { type: 'ipfix', id: EXPORTER },
    });
  });

  it('holds data that arrives before its template and decodes it when the template comes', () => {
    const d = new NetflowDecoder();
    expect(decodeAll(d, [data])).toHaveLength(0);
    expect(d.waitingSets).toBe(1);
    const out = decodeAll(d, [template]);
    expect(out.map((r) => r.bytesOut)).toEqual([1234]);
    expect(d.waitingSets).toBe(0);
    expect(d.stats.waitedSetsDecoded).toBe(1);
    expect(d.stats.errors.no_template).toBe(0);
  });

  it('drops data that waited longer than the waiting timeout, counted as no_template', () => {
    const d = new NetflowDecoder({ waitingTimeoutMs: 5000 });
    decodeAll(d, [data], EXPORTER, T0);
    decodeAll(d, [template], EXPORTER, T0 + 6000);
    expect(d.stats.errors.no_template).toBe(1);
    expect(d.waitingSets).toBe(0);
  });

  it('bounds the data waiting for templates', () => {
    const d = new NetflowDecoder({ maxWaitingSets: 2 });
    decodeAll(d, [data, data, data]);
    expect(d.waitingSets).toBe(2);
    expect(d.stats.errors.waiting_full).toBe(1);
  });

  it('a template refresh with a changed layout applies to later data', () => {
    const d = new NetflowDecoder();
    decodeAll(d, [template, data]);
    const changed: Field[] = [
      [IE.destinationIPv4Address, 4],
      [IE.sourceIPv4Address, 4],
      [IE.octetDeltaCount, 8],
      [IE.packetDeltaCount, 2],
      [IE.protocolIdentifier, 1],
    ];
    const refresh = ipfixMessage(7, T0 / 1000, [set(2, templateRecord(300, changed))]);
    const newData = ipfixMessage(7, T0 / 1000, [
      set(300, new ByteWriter().ipv4('198.51.100.7').ipv4('10.0.0.2').u64(2 ** 40).u16(9).u8(17).done()),
    ]);
    const [r] = decodeAll(d, [refresh, newData]);
    expect(r).toMatchObject({ src: '10.0.0.2', dst: '198.51.100.7', bytesOut: 2 ** 40, packetsOut: 9, proto: 17, srcPort: 0 });
    expect(d.stats.templatesChanged).toBe(1);
    expect(d.templates.size).toBe(1);
    // A refresh with the same layout is not a change.
    decodeAll(d, [refresh]);
    expect(d.stats.templatesChanged).toBe(1);
  });

  it('keeps the templates of two exporters with the same domain and template id apart', () => {
    const d = new NetflowDecoder();
    const other: Field[] = [
      [IE.sourceIPv4Address, 4],
      [IE.destinationIPv4Address, 4],
      [IE.packetDeltaCount, 4],
      [IE.octetDeltaCount, 4],
    ];
    decodeAll(d, [template], '192.0.2.1');
    decodeAll(d, [ipfixMessage(7, T0 / 1000, [set(2, templateRecord(300, other))])], '192.0.2.2');
    const fromA = decodeAll(d, [data], '192.0.2.1');
    const fromB = decodeAll(
      d,
      [ipfixMessage(7, T0 / 1000, [set(300, new ByteWriter().ipv4('10.9.9.9').ipv4('10.8.8.8').u32(5).u32(700).done())])],
      '192.0.2.2',
    );
    expect(fromA[0]).toMatchObject({ bytesOut: 1234, packetsOut: 3, source: { id: '192.0.2.1' } });
    expect(fromB[0]).toMatchObject({ src: '10.9.9.9', bytesOut: 700, packetsOut: 5, source: { id: '192.0.2.2' } });
    // A broken datagram from one exporter does not disturb the other.
    decodeAll(d, [Uint8Array.from([0, 10, 0, 40, 1, 2, 3])], '192.0.2.2');
    decodeAll(d, [ipfixMessage(7, T0 / 1000, [set(2, new Uint8Array([1, 44, 0, 9, 0]))])], '192.0.2.2');
    expect(decodeAll(d, [data], '192.0.2.1')[0]).toMatchObject({ bytesOut: 1234 });
    expect(errorTotal(d)).toBeGreaterThan(0);
  });

  it('withdraws templates (one, then all) and expires stale ones', () => {
    const d = new NetflowDecoder({ templateTimeoutMs: 60_000 });
    decodeAll(d, [template]);
    decodeAll(d, [ipfixMessage(7, T0 / 1000, [set(2, new ByteWriter().u16(300).u16(0).done())])]);
    expect(d.templates.size).toBe(0);
    expect(d.stats.templatesWithdrawn).toBe(1);
    expect(decodeAll(d, [data])).toHaveLength(0);
    expect(d.waitingSets).toBe(1);
    decodeAll(d, [template]);
    decodeAll(d, [ipfixMessage(7, T0 / 1000, [set(2, templateRecord(301, FLOW_FIELDS))])]);
    decodeAll(d, [ipfixMessage(7, T0 / 1000, [set(2, new ByteWriter().u16(2).u16(0).done())])]);
    expect(d.templates.size).toBe(0);
    decodeAll(d, [template], EXPORTER, T0);
    d.sweep(T0 + 61_000);
    expect(d.templates.size).toBe(0);
    expect(d.templates.expired).toBe(1);
  });

  it('bounds the template cache', () => {
    const d = new NetflowDecoder({ maxTemplates: 3 });
    for (let id = 256; id < 266; id++) decodeAll(d, [ipfixMessage(1, T0 / 1000, [set(2, templateRecord(id, FLOW_FIELDS))])]);
    expect(d.templates.size).toBe(3);
    expect(d.templates.evicted).toBe(7);
    expect(d.templates.get(`${EXPORTER}/1/265`)).toBeDefined();
  });

  it('skips enterprise fields and reads variable-length fields (both length forms)', () => {
    const d = new NetflowDecoder();
    const fields: Field[] = [
      [IE.sourceIPv4Address, 4],
      [100, 0xffff, 9], // enterprise, variable length
      [IE.destinationIPv4Address, 4],
      [200, 4, 9], // enterprise, fixed
      [IE.octetDeltaCount, 4],
    ];
    const record = (name: number[], bytes: number) => {
      const w = new ByteWriter().ipv4('10.1.1.1');
      if (name.length < 255) w.u8(name.length);
      else w.u8(255).u16(name.length);
      return w.raw(name).ipv4('10.2.2.2').u32(0xdeadbeef).u32(bytes).done();
    };
    const body = new ByteWriter().raw(record([1, 2, 3], 10)).raw(record(new Array(300).fill(7), 20)).raw(record([], 30)).done();
    const out = decodeAll(d, [ipfixMessage(1, T0 / 1000, [set(2, templateRecord(400, fields)), set(400, body)])]);
    expect(out.map((r) => [r.src, r.dst, r.bytesOut])).toEqual([
      ['10.1.1.1', '10.2.2.2', 10],
      ['10.1.1.1', '10.2.2.2', 20],
      ['10.1.1.1', '10.2.2.2', 30],
    ]);
    // A variable-length field that runs past the set is a truncated record.
    const broken = new ByteWriter().ipv4('10.1.1.1').u8(200).raw(new Array(20).fill(1)).done();
    decodeAll(d, [ipfixMessage(1, T0 / 1000, [set(400, broken)])]);
    expect(d.stats.errors.truncated_record).toBe(1);
  });

  it('IPFIX options data with systematic sampling scales counters; sampler ids pick their rate', () => {
    const d = new NetflowDecoder();
    const options = ipfixOptionsTemplateRecord(
      500,
      [[IE.selectorId, 4]],
      [
        [IE.samplingPacketInterval, 4],
        [IE.samplingPacketSpace, 4],
      ],
    );
    const optionsData = new ByteWriter().u32(1).u32(1).u32(99).u32(2).u32(1).u32(9).done();
    const flowWithSelector: Field[] = [...FLOW_FIELDS, [IE.selectorId, 4]];
    const out = decodeAll(d, [
      ipfixMessage(3, T0 / 1000, [set(3, options), set(500, optionsData), set(2, templateRecord(256, flowWithSelector))]),
      ipfixMessage(3, T0 / 1000, [
        set(256, new ByteWriter().raw(flowData('10.0.0.1', '10.0.0.2', 100, 1).done()).u32(1).done()),
        set(256, new ByteWriter().raw(flowData('10.0.0.1', '10.0.0.3', 100, 1).done()).u32(2).done()),
      ]),
    ]);
    expect(out.map((r) => [r.bytesOut, r.packetsOut])).toEqual([
      [10000, 100],
      [1000, 10],
    ]);
  });

  it('NetFlow v9 options template (System scope) with sampler id and interval', () => {
    const d = new NetflowDecoder();
    const options = v9OptionsTemplateRecord(
      257,
      [[1, 4]],
      [
        [IE.samplerId, 2],
        [IE.samplingInterval, 4],
      ],
    );
    const optionsData = new ByteWriter().u32(0).u16(3).u32(512).done();
    const fields: Field[] = [
      [IE.sourceIPv4Address, 4],
      [IE.destinationIPv4Address, 4],
      [IE.octetDeltaCount, 4],
      [IE.packetDeltaCount, 4],
      [IE.flowStartSysUpTime, 4],
      [IE.flowEndSysUpTime, 4],
      [IE.samplerId, 2],
    ];
    const unixSecs = T0 / 1000;
    const sysUptime = 5000;
    const out = decodeAll(d, [
      v9Packet(0, sysUptime, unixSecs, [set(1, options), set(257, optionsData), set(0, templateRecord(260, fields))]),
      // Started 4 s before export; uptime wrapped: first is just below 2^32.
      v9Packet(0, sysUptime, unixSecs, [
        set(260, new ByteWriter().ipv4('10.0.0.1').ipv4('10.0.0.2').u32(10).u32(1).u32(1000).u32(4000).u16(3).done()),
        set(260, new ByteWriter().ipv4('10.0.0.1').ipv4('10.0.0.2').u32(10).u32(1).u32(2 ** 32 - 1000).u32(2000).u16(9).done()),
      ]),
    ]);
    expect(out.map((r) => [r.bytesOut, r.packetsOut, r.ts - T0, r.tsEnd - T0])).toEqual([
      [5120, 512, -4000, -1000],
      // Unknown sampler 9: the latest announced rate applies.
      [5120, 512, -6000, -3000],
    ]);
  });

  it('IPFIX flowStartSysUpTime uses systemInitTimeMilliseconds from options data', () => {
    const d = new NetflowDecoder();
    const options = ipfixOptionsTemplateRecord(256, [[143, 4]], [[IE.systemInitTimeMilliseconds, 8]]);
    const fields: Field[] = [
      [IE.sourceIPv4Address, 4],
      [IE.destinationIPv4Address, 4],
      [IE.octetDeltaCount, 4],
      [IE.flowStartSysUpTime, 4],
      [IE.flowEndSysUpTime, 4],
    ];
    const flow = set(1024, new ByteWriter().ipv4('10.0.0.1').ipv4('10.0.0.2').u32(10).u32(1500).u32(2500).done());
    // Without the init time the export time stands in, counted.
    const before = decodeAll(d, [ipfixMessage(0, T0 / 1000, [set(2, templateRecord(1024, fields)), flow])]);
    expect(before[0]!.ts).toBe(T0);
    expect(d.stats.errors.no_time_reference).toBe(1);
    const initMs = T0 - 60_000;
    const out = decodeAll(d, [
      ipfixMessage(0, T0 / 1000, [set(3, options), set(256, new ByteWriter().u32(1).u64(initMs).done()), flow]),
    ]);
    expect([out[0]!.ts, out[0]!.tsEnd]).toEqual([initMs + 1500, initMs + 2500]);
  });

  it('decodes IPv6 flows', () => {
    const d = new NetflowDecoder();
    const body = new ByteWriter()
      .ipv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])
      .ipv6([0xfe80, 0, 0, 0, 0x1234, 0, 0, 0])
      .u64(99)
      .u64(2)
      .u32(1_700_000_000)
      .done();
    const [r] = decodeAll(d, [ipfixMessage(1, T0 / 1000, [set(2, templateRecord(256, IPV6_FLOW_FIELDS)), set(256, body)])]);
    expect(r).toMatchObject({ src: '2001:db8::1', dst: 'fe80::1234:0:0:0', bytesOut: 99, packetsOut: 2, ts: 1_700_000_000_000 });
  });

  it('counts malformed input by reason', () => {
    const d = new NetflowDecoder();
    decodeAll(d, [Uint8Array.from([0, 7, 0, 0])]);
    expect(d.stats.errors.unknown_version).toBe(1);
    decodeAll(d, [Uint8Array.from([0, 10])]);
    expect(d.stats.errors.short_packet).toBe(1);
    const good = ipfixMessage(1, T0 / 1000, [set(2, templateRecord(256, FLOW_FIELDS))]);
    decodeAll(d, [good.subarray(0, good.length - 3)]);
    expect(d.stats.errors.bad_length).toBe(1);
    const badSet = ipfixMessage(1, T0 / 1000, [new ByteWriter().u16(256).u16(2).done()]);
    decodeAll(d, [badSet]);
    expect(d.stats.errors.bad_set_length).toBe(1);
    decodeAll(d, [ipfixMessage(1, T0 / 1000, [set(9, new Uint8Array(4))])]);
    expect(d.stats.errors.bad_set_id).toBe(1);
    decodeAll(d, [ipfixMessage(1, T0 / 1000, [set(2, templateRecord(256, [[IE.octetDeltaCount, 0]]))])]);
    expect(d.stats.errors.bad_template).toBe(1);
  });
});

describe('NetFlow v5', () => {
  function v5(sampling: number, records: number, declared = records): Uint8Array {
    const w = new ByteWriter().u16(5).u16(declared).u32(100_000).u32(T0 / 1000).u32(250_000_000).u32(1).u8(0).u8(0).u16(sampling);
    for (let i = 0; i < records; i++) {
      w.ipv4('10.0.0.1').ipv4(`198.51.100.${i}`).ipv4('0.0.0.0').u16(1).u16(2);
      w.u32(3).u32(1000).u32(90_000).u32(99_000).u16(5353).u16(53).u8(0).u8(0).u8(17).u8(0).u16(0).u16(0).u8(0).u8(0).u16(0);
    }
    return w.done();
  }

  it('applies the header sampling interval and the header nanoseconds', () => {
    const d = new NetflowDecoder();
    // Mode bits 01 (deterministic), interval 100.
    const out = decodeAll(d, [v5((1 << 14) | 100, 2)]);
    expect(out.map(pick)).toEqual([0, 1].map((i) => ({
      src: '10.0.0.1',
      srcPort: 5353,
      dst: `198.51.100.${i}`,
      dstPort: 53,
      proto: 17,
      bytesOut: 100_000,
      packetsOut: 300,
      bytesIn: 0,
      packetsIn: 0,
    })));
    expect([out[0]!.ts, out[0]!.tsEnd]).toEqual([T0 + 250 - 10_000, T0 + 250 - 1_000]);
  });

  it('decodes what is there of a truncated packet and counts it', () => {
    const d = new NetflowDecoder();
    expect(decodeAll(d, [v5(0, 2, 5)])).toHaveLength(2);
    expect(d.stats.errors.bad_length).toBe(1);
  });
});

describe('IPv6 address text', () => {
  const text = (groups: number[]) => formatIPv6At(new ByteWriter().ipv6(groups).done(), 0);
  it('writes RFC 5952 text', () => {
    expect(text([0, 0, 0, 0, 0, 0, 0, 0])).toBe('::');
    expect(text([0, 0, 0, 0, 0, 0, 0, 1])).toBe('::1');
    expect(text([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])).toBe('2001:db8::1:0:0:1');
    expect(text([0x2001, 0xdb8, 0, 1, 0, 0, 0, 0])).toBe('2001:db8:0:1::');
    expect(text([0x2001, 0xdb8, 1, 2, 3, 4, 5, 6])).toBe('2001:db8:1:2:3:4:5:6');
    expect(text([0x2001, 0, 1, 2, 3, 4, 5, 6])).toBe('2001:0:1:2:3:4:5:6');
    expect(text([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001])).toBe('::ffff:10.0.0.1');
  });
});
