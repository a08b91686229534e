// With EGRESSD_PCAP_WORKER=1 the built CLI replays capture files on a worker thread; with =0 in
// the main thread. Both must print exactly the same records and incidents, and fail alike.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { CLI, REPO_ROOT, TSC_CLI, runCli, sharedFixture, tempDir } from '../../support/env.js';

const IN_THREAD = { EGRESSD_PCAP_WORKER: '0' };
const ON_WORKER = { env: { EGRESSD_PCAP_WORKER: '1' } };
const CAPTURES = ['ndpi/bittorrent/bittorrent.pcap', 'ndpi/bittorrent/lru_ipv6_caches.pcapng', 'ndpi/bittorrent/bt-http.pcapng', 'ndpi/non_bittorrent/google_ssl.pcap'];

describe('egressd replay of captures on a worker thread', () => {
  const dir = tempDir('egressd-pcap-worker-');
  afterAll(() => dir.remove());

  it('has the built worker next to each build of the CLI (else EGRESSD_PCAP_WORKER=1 falls back to the main thread)', () => {
    expect(existsSync(join(CLI, '..', 'pcap-worker.cjs'))).toBe(true);
    expect(existsSync(join(TSC_CLI, '..', '..', 'sources', 'pcap', 'worker.js'))).toBe(true);
  });

  for (const rel of CAPTURES) {
    it(`prints the same records and incidents as in-thread replay: ${rel}`, () => {
      const file = sharedFixture(rel);
      if (!file) return;
      const worker = runCli(['replay', '--emit', 'records', file], ON_WORKER);
      const inThread = runCli(['replay', '--emit', 'records', file], { env: IN_THREAD });
      expect(worker.code, worker.stderr).toBe(0);
      expect(inThread.code, inThread.stderr).toBe(0);
      expect(worker.stdout.trim()).not.toBe('');
      expect(worker.stdout).toBe(inThread.stdout);
      const incidents = runCli(['replay', file], ON_WORKER);
      expect(incidents.stdout).toBe(runCli(['replay', file], { env: IN_THREAD }).stdout);
    });
  }

  it('keeps input order across several files (the first one started early, the next ones not)', () => {
    const files = CAPTURES.map(sharedFixture).filter((f): f is string => f !== undefined);
    if (files.length < 2) return;
    const worker = runCli(['replay', '--emit', 'records', ...files], ON_WORKER);
    expect(worker.code, worker.stderr).toBe(0);
    const ids = [...new Set(worker.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { source: { id: string } }).source.id))];
    expect(ids).toEqual(files.map((f) => f.split('/').pop()));
    expect(worker.stdout).toBe(runCli(['replay', '--emit', 'records', ...files], { env: IN_THREAD }).stdout);
  });

  it('fails on a file that is not a capture exactly as in-thread replay does', () => {
    const bogus = join(dir.path, 'bogus.pcap');
    writeFileSync(bogus, Buffer.alloc(4096, 0x41));
    const worker = runCli(['replay', '--format', 'pcap', bogus], ON_WORKER);
    const inThread = runCli(['replay', '--format', 'pcap', bogus], { env: IN_THREAD });
    expect(worker.code).not.toBe(0);
    expect(worker.code).toBe(inThread.code);
    expect(worker.stderr).toMatch(/neither pcap nor pcapng/);
    expect(worker.stderr.split('\n').filter((l) => l.startsWith('egressd:'))).toEqual(inThread.stderr.split('\n').filter((l) => l.startsWith('egressd:')));
  });

  it('replays a capture cut mid-record as in-thread replay does, printing the flows before the cut', () => {
    const file = sharedFixture('ndpi/bittorrent/bittorrent.pcap');
    if (!file) return;
    const cut = join(dir.path, 'cut.pcap');
    const whole = readFileSync(file);
    writeFileSync(cut, whole.subarray(0, whole.length - 7));
    const worker = runCli(['replay', '--emit', 'records', cut], ON_WORKER);
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stdout.length).toBeGreaterThan(0);
    expect(worker.stdout).toBe(runCli(['replay', '--emit', 'records', cut], { env: IN_THREAD }).stdout);
  });

  it('counts the same source and packet metrics on the worker as in the main thread', async () => {
    const file = sharedFixture('ndpi/bittorrent/bittorrent.pcap');
    if (!file) return;
    // The worker runs from the build: load the built modules.
    const built = (rel: string) => import(pathToFileURL(join(REPO_ROOT, 'dist', 'src', rel)).href);
    const formats = (await built('sources/formats.js')) as typeof import('../../../src/sources/formats.js');
    const telemetry = (await built('telemetry/metrics.js')) as typeof import('../../../src/telemetry/metrics.js');
    const logger = ((await built('telemetry/logger.js')) as typeof import('../../../src/telemetry/logger.js')).silentLogger();
    const replay = async (pcapWorker: boolean) => {
      const registry = new Registry();
      let records = 0;
      await formats.replayInput(
        formats.openInput(file, 'pcap'),
        'pcap',
        { sourceId: 'bt', out: { push: async (b) => void (records += b.length) }, metrics: telemetry.sourceMetrics(registry), logger },
        { registry, pcapWorker },
      );
      const metrics = (await registry.getMetricsAsJSON()).filter((m) => m.name !== 'egressd_source_lag_seconds');
      return { records, metrics };
    };
    const worker = await replay(true);
    const inThread = await replay(false);
    expect(worker.records).toBeGreaterThan(0);
    expect(worker.records).toBe(inThread.records);
    expect(worker.metrics.map((m) => m.name)).toContain('egressd_pcap_packets_total');
    expect(worker.metrics).toEqual(inThread.metrics);
  });
});
