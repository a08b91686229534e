import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { RecordPacker } from './transfer.js';
import { MetricOps, postBatch, type FromWorker } from './worker-protocol.js';
import type { FlowRecord } from '../../record.js';

describe('postBatch', () => {
  it('copies the packed arrays: the worker detaches no ArrayBuffer', async () => {
    const record: FlowRecord = {
      ts: 1, tsEnd: 2, src: '10.0.0.1', srcPort: 40000, dst: '192.0.2.7', dstPort: 443, proto: 6,
      bytesOut: 10, bytesIn: 20, packetsOut: 1, packetsIn: 1, source: { type: 'pcap', id: 'a' },
      serverName: undefined, app: undefined, url: undefined, method: undefined, userAgent: undefined, host: undefined, remote: undefined, approval: undefined,
    };
    const packed = new RecordPacker().pack([record])!;
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<FromWorker>((resolve) => port2.once('message', resolve));
    postBatch(port1, packed, []);
    const message = await received;
    port1.close();
    expect(packed.numbers.buffer.byteLength).toBe(9 * 8);
    expect(packed.refs.buffer.byteLength).toBeGreaterThan(0);
    expect(message.t).toBe('batch');
    expect(message.t === 'batch' && [...message.packed.numbers]).toEqual([...packed.numbers]);
  });
});

describe('MetricOps', () => {
  it('sends one operation per series between two takes: increments summed, the last value set', () => {
    const ops = new MetricOps();
    const source = ops.sourceMetrics();
    const pcap = ops.pcapMetrics();
    source.records.inc({ source: 'pcap', id: 'a' }, 3);
    source.records.inc({ source: 'pcap', id: 'a' }, 4);
    source.records.inc({ source: 'pcap', id: 'b' }, 1);
    pcap.trackedFlows!.set({ id: 'a' }, 10);
    pcap.trackedFlows!.set({ id: 'a' }, 7);
    pcap.skipped!.inc({ id: 'a', reason: 'non_ip' });
    pcap.skipped!.inc({ id: 'a', reason: 'after_close' });
    pcap.skipped!.inc({ id: 'a', reason: 'non_ip' });
    expect(ops.take()).toEqual([
      { metric: 'records', kind: 'inc', labels: { source: 'pcap', id: 'a' }, value: 7 },
      { metric: 'records', kind: 'inc', labels: { source: 'pcap', id: 'b' }, value: 1 },
      { metric: 'trackedFlows', kind: 'set', labels: { id: 'a' }, value: 7 },
      { metric: 'skipped', kind: 'inc', labels: { id: 'a', reason: 'non_ip' }, value: 2 },
      { metric: 'skipped', kind: 'inc', labels: { id: 'a', reason: 'after_close' }, value: 1 },
    ]);
    expect(ops.take()).toEqual([]);
    source.records.inc({ source: 'pcap', id: 'a' }, 2);
    expect(ops.take()).toEqual([{ metric: 'records', kind: 'inc', labels: { source: 'pcap', id: 'a' }, value: 2 }]);
  });
});
