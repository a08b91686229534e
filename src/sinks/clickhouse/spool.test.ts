import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/env.js';
import { decodeRecord, encodeRecord, Spool, type SpoolEvents } from './spool.js';

function recorder() {
  const seen = { corrupt: [] as string[], dropped: [] as number[], bytes: 0 };
  const events: SpoolEvents = {
    corrupt: (_file, reason) => seen.corrupt.push(reason),
    dropped: (batches) => seen.dropped.push(batches),
    size: (bytes) => (seen.bytes = bytes),
  };
  return { seen, events };
}

const batch = (n: number) => ({ table: 'incidents', token: `t${n}`, rows: 2, body: `{"id":"a${n}"}\n{"id":"b${n}"}\n` });

describe('spool record format', () => {
  it('round-trips a batch with its checksum', () => {
    const data = encodeRecord(7, batch(1), 1234);
    const header = JSON.parse(data.subarray(0, data.indexOf(10)).toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ v: 1, seq: 7, table: 'incidents', token: 't1', rows: 2, created: 1234 });
    expect(header.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(decodeRecord(data)).toEqual({ seq: 7, table: 'incidents', token: 't1', rows: 2, body: batch(1).body, created: 1234 });
  });

  it('detects a flipped byte, a truncated payload and a broken header', () => {
    const data = encodeRecord(1, batch(1), 0);
    const flipped = Buffer.from(data);
    flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 0x01;
    expect(() => decodeRecord(flipped)).toThrow('checksum mismatch');
    expect(() => decodeRecord(data.subarray(0, data.length - 1))).toThrow('length mismatch');
    expect(() => decodeRecord(Buffer.from('{not json\n{}'))).toThrow('bad header');
  });
});

describe('Spool', () => {
  it('replays in append order and survives a restart', async () => {
    const dir = tempDir();
    try {
      const { events } = recorder();
      const spool = new Spool(dir.path, 1e9, events);
      await spool.open();
      for (let i = 1; i <= 3; i++) await spool.append(batch(i));
      writeFileSync(join(dir.path, '0000000000000009.incidents.batch.tmp'), 'half written');
      const reopened = new Spool(dir.path, 1e9, events);
      await reopened.open();
      expect(reopened.batches).toBe(3);
      expect(readdirSync(dir.path).some((n) => n.endsWith('.tmp'))).toBe(false);
      const tokens: string[] = [];
      for (let r = await reopened.oldest(); r; r = await reopened.oldest()) {
        tokens.push(r.token);
        await reopened.remove(r.seq);
      }
      expect(tokens).toEqual(['t1', 't2', 't3']);
      expect(reopened.bytes).toBe(0);
      await reopened.append(batch(4));
      expect(readdirSync(dir.path).filter((n) => n.endsWith('.batch'))).toEqual(['0000000000000004.incidents.batch']);
    } finally {
      dir.remove();
    }
  });

  it('groups the oldest record with later ones of the same table, within limits', async () => {
    const dir = tempDir();
    try {
      const spool = new Spool(dir.path, 1e9, recorder().events);
      await spool.open();
      await spool.append(batch(1));
      await spool.append({ ...batch(2), table: 'flows_1m_input' });
      await spool.append(batch(3));
      await spool.append(batch(4));
      expect((await spool.oldestRun(1e9, 1000)).map((r) => r.token)).toEqual(['t1', 't3', 't4']);
      expect((await spool.oldestRun(1e9, 4)).map((r) => r.token)).toEqual(['t1', 't3']);
      await spool.remove(1);
      expect((await spool.oldestRun(1e9, 1000)).map((r) => r.token)).toEqual(['t2']);
    } finally {
      dir.remove();
    }
  });

  it('counts a corrupted record, moves it aside and goes on with the next', async () => {
    const dir = tempDir();
    try {
      const { seen, events } = recorder();
      const spool = new Spool(dir.path, 1e9, events);
      await spool.open();
      await spool.append(batch(1));
      await spool.append(batch(2));
      const first = join(dir.path, '0000000000000001.incidents.batch');
      const data = readFileSync(first);
      data[data.length - 5] = 0x58;
      writeFileSync(first, data);
      const r = await spool.oldest();
      expect(r?.token).toBe('t2');
      expect(seen.corrupt).toEqual(['checksum mismatch']);
      expect(readdirSync(join(dir.path, 'corrupt'))).toEqual(['0000000000000001.incidents.batch']);
      expect(spool.batches).toBe(1);
    } finally {
      dir.remove();
    }
  });

  it('drops the oldest batches to stay under its bound', async () => {
    const dir = tempDir();
    try {
      const { seen, events } = recorder();
      const size = encodeRecord(1, batch(1), 0).length;
      const spool = new Spool(dir.path, size * 3 + 10, events, () => 0);
      await spool.open();
      for (let i = 1; i <= 5; i++) await spool.append(batch(i));
      expect(spool.batches).toBe(3);
      expect(spool.bytes).toBeLessThanOrEqual(size * 3 + 10);
      expect(seen.dropped.reduce((a, b) => a + b, 0)).toBe(2);
      expect((await spool.oldest())?.token).toBe('t3');
      expect(seen.bytes).toBe(spool.bytes);
    } finally {
      dir.remove();
    }
  });
});
