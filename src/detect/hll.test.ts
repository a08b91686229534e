import { describe, expect, it } from 'vitest';
import { HyperLogLog, hashString, mix32 } from './hll.js';

describe('HyperLogLog', () => {
  it('is exact while sparse', () => {
    const h = new HyperLogLog(12);
    for (let i = 0; i < 300; i++) h.add(`10.0.${i >> 8}.${i & 255}`);
    for (let i = 0; i < 300; i++) h.add(`10.0.${i >> 8}.${i & 255}`);
    expect(h.count()).toBe(300);
  });

  it.each([1, 2, 3, 4, 5])('estimates 10,000 distinct values within ±5 %% (seed %i)', (seed) => {
    const h = new HyperLogLog(12);
    for (let i = 0; i < 10_000; i++) h.add(`${seed}:198.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const estimate = h.count();
    expect(Math.abs(estimate - 10_000) / 10_000).toBeLessThan(0.05);
  });

  it('stays accurate from hundreds to millions', () => {
    for (const n of [600, 3_000, 50_000, 1_000_000]) {
      const h = new HyperLogLog(12);
      for (let i = 0; i < n; i++) h.addHash(mix32(i * 2654435761 + 7));
      expect(Math.abs(h.count() - n) / n).toBeLessThan(0.05);
    }
  });

  it('merges as a union and survives a JSON round trip', () => {
    const a = new HyperLogLog(12);
    const b = new HyperLogLog(12);
    for (let i = 0; i < 8_000; i++) a.add(`a${i}`);
    for (let i = 4_000; i < 12_000; i++) b.add(`a${i}`);
    const u = a.clone();
    u.merge(b);
    expect(Math.abs(u.count() - 12_000) / 12_000).toBeLessThan(0.05);
    const back = HyperLogLog.fromJSON(JSON.parse(JSON.stringify(u.toJSON())));
    expect(back.count()).toBe(u.count());
    const small = new HyperLogLog(12);
    small.add('x');
    small.add('y');
    expect(HyperLogLog.fromJSON(JSON.parse(JSON.stringify(small.toJSON()))).count()).toBe(2);
  });

  it('bounds memory: 4 KiB of registers at p=12 however many values', () => {
    const h = new HyperLogLog(12);
    for (let i = 0; i < 200_000; i++) h.addHash(mix32(i));
    expect(h.byteSize()).toBeLessThanOrEqual(4096 + 256);
    h.clear();
    expect(h.isEmpty()).toBe(true);
    expect(h.count()).toBe(0);
  });

  it('reuses a small sparse table across clear() and gives a large or idle one back', () => {
    const h = new HyperLogLog(12);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) h.addHash(mix32(round * 1000 + i));
      expect(h.count()).toBe(40);
      const size = h.byteSize();
      h.clear();
      expect(h.count()).toBe(0);
      expect(h.byteSize()).toBe(size);
    }
    h.addHash(mix32(1));
    h.clear();
    expect(h.byteSize()).toBeLessThan(100);
    for (let i = 0; i < 500; i++) h.addHash(mix32(i));
    h.clear();
    expect(h.byteSize()).toBeLessThan(100);
    h.addHash(mix32(7));
    h.addHash(mix32(7));
    expect(h.count()).toBe(1);
  });

  it('hashes spread text evenly', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[hashString(`192.168.1.${i}`) >>> 28]! += 1;
    for (const b of buckets) expect(b).toBeGreaterThan(800);
  });
});
