import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../record.js';
import { sharedFixture } from '../../../test/support/env.js';
import { silentLogger } from '../../telemetry/logger.js';
import { sourceMetrics } from '../../telemetry/metrics.js';
import { pcapSourceSchema } from './config.js';
import { replayPcap } from './index.js';
import { RecordPacker, RecordUnpacker } from './transfer.js';
import { Readable } from 'node:stream';

const base = (over: Partial<FlowRecord> = {}): FlowRecord => ({
  ts: 1_718_000_000_123,
  tsEnd: 1_718_000_001_456,
  src: '10.0.0.1',
  srcPort: 51413,
  dst: '2001:db8::1',
  dstPort: 6881,
  proto: 6,
  bytesOut: 1234,
  bytesIn: 2 ** 40,
  packetsOut: 3,
  packetsIn: 4,
  source: { type: 'pcap', id: 'x.pcap' },
  ...over,
});

/** The flow tracker's key order: unpacked records carry every key, undefined when absent. */
const TRACKER_KEYS = ['ts', 'tsEnd', 'src', 'srcPort', 'dst', 'dstPort', 'proto', 'bytesOut', 'bytesIn', 'packetsOut', 'packetsIn', 'source', 'serverName', 'app', 'url', 'method', 'userAgent', 'host', 'remote', 'approval'];

function roundTrip(records: FlowRecord[], packer = new RecordPacker(), unpacker = new RecordUnpacker(), trackerShape = false): FlowRecord[] {
  const packed = packer.pack(records, trackerShape);
  expect(packed).toBeDefined();
  const back = unpacker.unpack(structuredClone(packed!));
  for (const r of back) expect(Object.keys(r)).toEqual(TRACKER_KEYS);
  // Same values, same JSON (undefined keys are left out of both).
  expect(back).toEqual(records);
  expect(back.map((r) => JSON.stringify(r))).toEqual(records.map((r) => JSON.stringify(r)));
  return back;
}

const packRecords = (records: FlowRecord[]) => new RecordPacker().pack(records);

describe('packRecords / unpackRecords', () => {
  it('gives back every field, in the same key order, optional text with any characters', () => {
    const records = [
      base(),
      base({ serverName: 'tracker.example', app: { name: 'bittorrent', via: 'tracker', infoHash: 'ab'.repeat(20), infoHashes: ['cd'.repeat(20)] }, url: 'http://t/announce?x=\u0000é', method: 'GET', userAgent: 'µTorrent/3.5' }),
      base({ app: { name: 'dns' } }),
      base({ url: '', method: 'POST' }),
      base({ serverName: 'only-name' }),
    ];
    roundTrip(records);
  });

  it('takes an optional key left undefined as absent', () => {
    roundTrip([base({ serverName: undefined, app: undefined, url: undefined })]);
  });

  it('does not pack a record it could not give back exactly', () => {
    expect(packRecords([base(), { ...base(), host: '10.0.0.1' }])).toBeUndefined();
    expect(packRecords([base(), { ...base(), serverName: 7 as unknown as string }])).toBeUndefined();
    expect(packRecords([base(), { ...base(), extra: 1 } as FlowRecord])).toBeUndefined();
    expect(packRecords([base(), base({ source: { type: 'pcap', id: 'other' } })])).toBeUndefined();
    const reordered = base({ url: 'http://a/' });
    const { source, ...rest } = reordered;
    expect(packRecords([{ ...rest, source } as FlowRecord, { source, ...rest } as FlowRecord])).toBeUndefined();
    expect(packRecords([])).toBeUndefined();
    // The tracker's records go without the key check, never without the value checks.
    const tracker = new RecordPacker();
    expect(tracker.pack([base(), { ...base(), host: '10.0.0.1' }], true)).toBeUndefined();
    expect(tracker.pack([base(), { ...base(), serverName: 7 as unknown as string }], true)).toBeUndefined();
    expect(tracker.pack([base(), base({ source: { type: 'pcap', id: 'other' } })], true)).toBeUndefined();
  });

  it('round-trips the flow records of real captures', async () => {
    for (const rel of ['ndpi/bittorrent/bt-http.pcapng', 'ndpi/bittorrent/lru_ipv6_caches.pcapng', 'ndpi/non_bittorrent/windowsupdate_over_http.pcap']) {
      const file = sharedFixture(rel);
      if (!file) continue;
      const records: FlowRecord[] = [];
      await replayPcap(
        Readable.from([readFileSync(file)]),
        { sourceId: 'f', out: { push: async (b) => void records.push(...b) }, metrics: sourceMetrics(new Registry()), logger: silentLogger() },
        pcapSourceSchema.parse({ type: 'pcap' }),
      );
      expect(records.length).toBeGreaterThan(0);
      // Keys checked, and unchecked as the replay worker packs the tracker's records.
      for (const trackerShape of [false, true]) {
        const back = roundTrip(records, new RecordPacker(), new RecordUnpacker(), trackerShape);
        // The tracker's records and the unpacked ones have one shape: key for key the same.
        expect(back).toStrictEqual(records);
      }
    }
  });
});

describe('packRecords app evidence', () => {
  it('keeps the key order of each evidence object, whatever it is', () => {
    const records = [
      base({ app: { name: 'bittorrent', via: 'handshake', peerId: '-TR3000-', client: 'Transmission', infoHash: 'ab'.repeat(20) } }),
      base({ app: { name: 'bittorrent', via: 'dht', infoHash: 'cd'.repeat(20), infoHashes: [] } }),
      base({ app: { name: 'bittorrent', infoHashes: ['01'.repeat(20), '02'.repeat(20)], via: 'dht', tracker: 'tr' } }),
      base(),
    ];
    roundTrip(records);
  });

  it('does not pack evidence with a field it does not know how to carry', () => {
    expect(packRecords([base({ app: { name: 'x', extra: 1 } as unknown as FlowRecord['app'] })])).toBeUndefined();
  });
});

describe('string table across batches', () => {
  it('sends each distinct string once and gives the same string object back for it', () => {
    const packer = new RecordPacker();
    const unpacker = new RecordUnpacker();
    const first = roundTrip([base({ serverName: 'a.example' }), base({ serverName: 'b.example' })], packer, unpacker);
    const again = [base({ serverName: 'a.example', app: { name: 'tls' } }), base({ dst: '192.0.2.9' })];
    const packed = packer.pack(again)!;
    expect(packed.strings).toEqual(['tls', '192.0.2.9']);
    const second = unpacker.unpack(structuredClone(packed));
    expect(second).toEqual(again);
    expect(second[0]!.serverName).toBe(first[0]!.serverName);
  });

  it('starts both tables afresh when the next batch could overflow them', () => {
    const packer = new RecordPacker(8);
    const unpacker = new RecordUnpacker();
    const batches = [0, 1, 2, 3].map((b) => [base({ src: `10.0.${b}.1`, serverName: `h${b}.example` }), base({ src: `10.0.${b}.2` })]);
    let resets = 0;
    for (const batch of batches) {
      const packed = packer.pack(batch)!;
      if (packed.reset) resets++;
      expect(packed.firstId + packed.strings.length).toBeLessThanOrEqual(8);
      expect(unpacker.unpack(structuredClone(packed))).toEqual(batch);
    }
    expect(resets).toBeGreaterThan(0);
  });

  it('keeps the tables in step when a batch goes unpacked', () => {
    const packer = new RecordPacker();
    const unpacker = new RecordUnpacker();
    expect(packer.pack([base({ serverName: 'x.example' }), { ...base(), host: '10.0.0.1' }])).toBeUndefined();
    const batch = [base({ serverName: 'x.example' })];
    roundTrip(batch, packer, unpacker);
  });

  it('refuses a batch whose tables are out of step', () => {
    const packer = new RecordPacker();
    packer.pack([base()]);
    expect(() => new RecordUnpacker().unpack(packer.pack([base({ serverName: 'late.example' })])!)).toThrow(/out of step/);
  });
});
