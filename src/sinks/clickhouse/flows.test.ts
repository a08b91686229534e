import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../record.js';
import { FlowAggregator, flowRow } from './flows.js';

function rec(ts: number, host: string | undefined, remote: string | undefined, bytesIn: number, name?: string): FlowRecord {
  return {
    ts,
    tsEnd: ts,
    src: host ?? '192.0.2.1',
    srcPort: 1,
    dst: remote ?? '192.0.2.2',
    dstPort: 2,
    proto: 6,
    bytesOut: 1,
    bytesIn,
    packetsOut: 1,
    packetsIn: 2,
    ...(host ? { host } : {}),
    ...(remote ? { remote: { ip: remote, port: 2, ...(name ? { name } : {}) } } : {}),
    source: { type: 'netflow', id: 'x' },
  };
}

describe('FlowAggregator', () => {
  it('sums per minute, internal host and remote', () => {
    const agg = new FlowAggregator(100, () => undefined);
    const m0 = Date.UTC(2026, 0, 1, 10, 0, 5);
    agg.observe([rec(m0, '10.0.0.1', '203.0.113.1', 100), rec(m0 + 30_000, '10.0.0.1', '203.0.113.1', 50, 'cdn.example')]);
    agg.observe([rec(m0 + 60_000, '10.0.0.1', '203.0.113.1', 7), rec(m0, '10.0.0.2', '203.0.113.1', 1), rec(m0, undefined, '203.0.113.1', 1)]);
    expect(agg.size).toBe(3);
    expect(agg.skipped).toBe(1);
    const rows = agg.drain().map((b) => flowRow(b, 'gw'));
    const minute = Math.floor(m0 / 60_000) * 60;
    expect(rows).toContainEqual(expect.objectContaining({ minute, host: '10.0.0.1', remote_ip: '203.0.113.1', remote_name: 'cdn.example', bytes_in: 150, packets_in: 4, records: 2 }));
    expect(rows).toContainEqual(expect.objectContaining({ minute: minute + 60, host: '10.0.0.1', bytes_in: 7, records: 1 }));
    expect(rows).toContainEqual(expect.objectContaining({ minute, host: '10.0.0.2', bytes_in: 1, gateway: 'gw' }));
    expect(agg.size).toBe(0);
    expect(agg.drain()).toEqual([]);
  });

  it('asks its owner to drain when it reaches max_keys', () => {
    const drained: number[] = [];
    const agg: FlowAggregator = new FlowAggregator(2, () => drained.push(agg.drain().length));
    agg.observe([rec(0, 'h', 'r1', 1), rec(0, 'h', 'r2', 1), rec(0, 'h', 'r3', 1)]);
    expect(drained).toEqual([2]);
    expect(agg.size).toBe(1);
  });
});
