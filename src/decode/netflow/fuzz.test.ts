import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../record.js';
import { udpDatagrams } from '../../sources/netflow/pcap-frames.js';
import { NetflowDecoder } from './index.js';
import { IE, ByteWriter, ipfixMessage, set, templateRecord, type Field } from './testdata/datagrams.js';

// Mutated real datagrams must never throw out of the decoder; what it rejects is counted.

const TESTDATA = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata');

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function seeds(): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const file of readdirSync(TESTDATA).filter((f) => f.endsWith('.pcap'))) {
    for await (const d of udpDatagrams([readFileSync(join(TESTDATA, file))])) out.push(Uint8Array.from(d.payload));
  }
  const varFields: Field[] = [
    [IE.sourceIPv4Address, 4],
    [1, 0xffff, 9],
    [IE.destinationIPv4Address, 4],
    [IE.octetDeltaCount, 0xffff],
  ];
  out.push(
    ipfixMessage(1, 1_700_000_000, [
      set(2, templateRecord(256, varFields)),
      set(256, new ByteWriter().ipv4('10.0.0.1').u8(2).u16(0).ipv4('10.0.0.2').u8(4).u32(77).done()),
    ]),
  );
  return out;
}

function mutate(seed: Uint8Array, rnd: () => number): Uint8Array {
  const data = Uint8Array.from(seed);
  const kind = Math.floor(rnd() * 5);
  if (kind === 0) {
    const flips = 1 + Math.floor(rnd() * 8);
    for (let i = 0; i < flips; i++) {
      const o = Math.floor(rnd() * data.length);
      data[o] = data[o]! ^ (1 << Math.floor(rnd() * 8));
    }
    return data;
  }
  if (kind === 1) return data.subarray(0, Math.floor(rnd() * data.length));
  if (kind === 2) {
    // Length-like fields: overwrite a 16-bit word with an extreme or random value.
    const o = Math.floor(rnd() * Math.max(1, data.length - 1));
    const v = [0, 1, 3, 4, 0xffff, 0xff, Math.floor(rnd() * 65536)][Math.floor(rnd() * 7)]!;
    data[o] = v >>> 8;
    if (o + 1 < data.length) data[o + 1] = v & 0xff;
    return data;
  }
  if (kind === 3) {
    const extra = new Uint8Array(Math.floor(rnd() * 64));
    for (let i = 0; i < extra.length; i++) extra[i] = Math.floor(rnd() * 256);
    const out = new Uint8Array(data.length + extra.length);
    out.set(data);
    out.set(extra, data.length);
    return out;
  }
  for (let i = 4; i < data.length; i++) if (rnd() < 0.05) data[i] = Math.floor(rnd() * 256);
  return data;
}

describe('fuzz', () => {
  it('never throws on mutated datagrams and counts what it rejects', async () => {
    const corpus = await seeds();
    expect(corpus.length).toBeGreaterThan(10);
    const rnd = mulberry32(20260611);
    const decoder = new NetflowDecoder({ maxWaitingSets: 64 });
    let records = 0;
    const out: FlowRecord[] = [];
    for (let i = 0; i < 40_000; i++) {
      const seed = corpus[Math.floor(rnd() * corpus.length)]!;
      // Unmutated seeds keep templates flowing so data sets reach the record decoder.
      const datagram = rnd() < 0.3 ? seed : mutate(seed, rnd);
      const exporter = `127.0.0.${1 + Math.floor(rnd() * 3)}`;
      out.length = 0;
      expect(() => decoder.decode(datagram, { exporter, receivedAt: 1_700_000_000_000 + i }, out)).not.toThrow();
      for (const r of out) {
        records++;
        if (
          !Number.isFinite(r.ts) ||
          !Number.isFinite(r.tsEnd) ||
          r.tsEnd < r.ts ||
          !(r.bytesOut >= 0) ||
          !(r.packetsOut >= 0) ||
          !(r.bytesIn >= 0) ||
          r.srcPort < 0 ||
          r.srcPort > 65535 ||
          r.src === '' ||
          r.dst === ''
        ) {
          throw new Error(`implausible record ${JSON.stringify(r)}`);
        }
      }
    }
    const errors = decoder.stats.errors;
    expect(records).toBeGreaterThan(1000);
    expect(Object.values(errors).reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
    // Every rejection has a named reason: bounds checks, not the catch-all, stop bad input.
    expect(errors.malformed).toBe(0);
    expect(decoder.templates.size).toBeLessThanOrEqual(4096);
    expect(decoder.waitingSets).toBeLessThanOrEqual(64);
  });
});
