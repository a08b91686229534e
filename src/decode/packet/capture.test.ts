import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../errors.js';
import { CaptureReader, sniffCaptureFormat } from './capture.js';
import { pcapFile, pcapngFile } from './craft.js';

interface Seen {
  linktype: number;
  tsMs: number;
  data: string;
}

function readAll(file: Buffer, chunkSize = file.length): { packets: Seen[]; errors: string[] } {
  const packets: Seen[] = [];
  const errors: string[] = [];
  const reader = new CaptureReader(
    (linktype, tsMs, buf, start, end) => packets.push({ linktype, tsMs, data: buf.toString('hex', start, end) }),
    (reason) => errors.push(reason),
  );
  for (let i = 0; i < file.length; i += chunkSize) reader.feed(file.subarray(i, i + chunkSize));
  reader.end();
  return { packets, errors };
}

const P1 = Buffer.from('0102030405', 'hex');
const P2 = Buffer.from('aabbccddeeff0011', 'hex');
const T0 = Date.UTC(2026, 5, 11, 9, 0, 0);

describe('classic pcap', () => {
  for (const bigEndian of [false, true]) {
    for (const nanoseconds of [false, true]) {
      it(`${bigEndian ? 'big' : 'little'} endian, ${nanoseconds ? 'nano' : 'micro'}seconds, any chunking`, () => {
        const file = pcapFile(
          1,
          [
            { tsMs: T0 + 0.5, data: P1 },
            { tsMs: T0 + 1500.25, data: P2 },
          ],
          { bigEndian, nanoseconds },
        );
        for (const chunk of [file.length, 7, 1]) {
          const { packets, errors } = readAll(file, chunk);
          expect(errors).toEqual([]);
          expect(packets.map((p) => p.data)).toEqual([P1.toString('hex'), P2.toString('hex')]);
          expect(packets[0]!.tsMs).toBeCloseTo(T0 + 0.5, 3);
          expect(packets[1]!.tsMs).toBeCloseTo(T0 + 1500.25, 3);
          expect(packets[0]!.linktype).toBe(1);
        }
      });
    }
  }

  it('counts a record cut at the end of input as truncated', () => {
    const file = pcapFile(101, [
      { tsMs: T0, data: P1 },
      { tsMs: T0, data: P2 },
    ]);
    const { packets, errors } = readAll(file.subarray(0, file.length - 3));
    expect(packets).toHaveLength(1);
    expect(errors).toEqual(['truncated_record']);
  });

  it('stops, counted, when a record length is impossible', () => {
    const file = pcapFile(1, [{ tsMs: T0, data: P1 }]);
    file.writeUInt32LE(0x7fffffff, 24 + 8);
    const { packets, errors } = readAll(file);
    expect(packets).toHaveLength(0);
    expect(errors).toEqual(['bad_record_length']);
  });

  it('rejects input that is not a capture', () => {
    const reader = new CaptureReader(
      () => undefined,
      () => undefined,
    );
    expect(() => reader.feed(Buffer.from('hello world, not a capture'))).toThrow(DecodeError);
    expect(sniffCaptureFormat(Buffer.from('GET / HTTP/1.1'))).toBeUndefined();
  });
});

describe('pcapng', () => {
  it('reads several interfaces with their own link types and timestamp resolutions', () => {
    const file = pcapngFile(
      [
        { linktype: 1 },
        { linktype: 113, tsresol: 9 },
        { linktype: 101, tsresol: 0x8a },
      ],
      [
        { tsMs: T0 + 1.5, data: P1, iface: 0 },
        { tsMs: T0 + 2.000001, data: P2, iface: 1 },
        { tsMs: T0 + 1024, data: P1, iface: 2 },
      ],
    );
    expect(sniffCaptureFormat(file)).toBe('pcapng');
    for (const chunk of [file.length, 13, 1]) {
      const { packets, errors } = readAll(file, chunk);
      expect(errors).toEqual([]);
      expect(packets.map((p) => p.linktype)).toEqual([1, 113, 101]);
      expect(packets.map((p) => p.data)).toEqual([P1, P2, P1].map((b) => b.toString('hex')));
      expect(packets[0]!.tsMs).toBeCloseTo(T0 + 1.5, 3);
      expect(packets[1]!.tsMs).toBeCloseTo(T0 + 2.000001, 3);
      // 2^-10 s units: within a millisecond.
      expect(Math.abs(packets[2]!.tsMs - (T0 + 1024))).toBeLessThan(1);
    }
  });

  it('regression: every one of many interfaces keeps its own timestamp resolution (a table overlapping the core\'s static data broke the 16th on)', () => {
    const interfaces = Array.from({ length: 40 }, (_, i) => ({ linktype: 1, tsresol: i % 2 ? 9 : 6 }));
    const packets = interfaces.map((_, i) => ({ tsMs: T0 + i * 1000 + 0.5, data: P1, iface: i }));
    const { packets: seen, errors } = readAll(pcapngFile(interfaces, packets), 97);
    expect(errors).toEqual([]);
    expect(seen.map((p) => p.tsMs)).toEqual(packets.map((p) => p.tsMs));
  });

  it('counts a packet on an interface never described', () => {
    const file = pcapngFile([{ linktype: 1 }], [{ tsMs: T0, data: P1, iface: 0 }]);
    // Point the packet at interface 5.
    const epb = file.indexOf(Buffer.from([6, 0, 0, 0]), 28);
    file.writeUInt32LE(5, epb + 8);
    const { packets, errors } = readAll(file);
    expect(packets).toHaveLength(0);
    expect(errors).toEqual(['unknown_interface']);
  });

  it('frames a block larger than the input area (it grows), read in small chunks', () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 3, 7);
    big.writeUInt32BE(0xdeadbeef, big.length - 4);
    const file = pcapngFile([{ linktype: 1 }], [
      { tsMs: T0, data: P1 },
      { tsMs: T0 + 1, data: big },
      { tsMs: T0 + 2, data: P2 },
    ]);
    const { packets, errors } = readAll(file, 64 * 1024);
    expect(errors).toEqual([]);
    expect(packets.map((p) => p.data.length / 2)).toEqual([P1.length, big.length, P2.length]);
    expect(packets[1]!.data.endsWith('deadbeef')).toBe(true);
    expect(packets[2]!.data).toBe(P2.toString('hex'));
  });

  it('stops on a block length that breaks the framing', () => {
    const file = pcapngFile([{ linktype: 1 }], [{ tsMs: T0, data: P1 }]);
    const epb = file.indexOf(Buffer.from([6, 0, 0, 0]), 28);
    file.writeUInt32LE(7, epb + 4);
    const { errors } = readAll(file);
    expect(errors).toEqual(['bad_block_length']);
  });
});
