import { describe, expect, it } from 'vitest';
import { MetricOps } from './worker-protocol.js';

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
