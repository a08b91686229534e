import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { pcapWorkerWanted } from './spawn.js';

describe('capture worker setting', () => {
  const saved = process.env.EGRESSD_PCAP_WORKER;
  afterEach(() => {
    if (saved === undefined) delete process.env.EGRESSD_PCAP_WORKER;
    else process.env.EGRESSD_PCAP_WORKER = saved;
  });

  it('follows EGRESSD_PCAP_WORKER=1 or 0, else uses the worker when the host has two CPUs or more', () => {
    process.env.EGRESSD_PCAP_WORKER = '1';
    expect(pcapWorkerWanted()).toBe(true);
    process.env.EGRESSD_PCAP_WORKER = '0';
    expect(pcapWorkerWanted()).toBe(false);
    delete process.env.EGRESSD_PCAP_WORKER;
    expect(pcapWorkerWanted()).toBe(availableParallelism() >= 2);
    process.env.EGRESSD_PCAP_WORKER = 'yes';
    expect(pcapWorkerWanted()).toBe(availableParallelism() >= 2);
  });
});
