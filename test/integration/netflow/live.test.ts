import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import type { FlowRecord } from '../../../src/record.js';
import { netflowSourceSchema } from '../../../src/sources/netflow/config.js';
import { createNetflowSource } from '../../../src/sources/netflow/index.js';
import type { Source } from '../../../src/sources/types.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createRegistry } from '../../../src/telemetry/metrics.js';
import { requireTool, sharedFixture, tempDir, waitFor } from '../../support/env.js';
import { aggregate, groundTruth } from './ground-truth.js';

// The UDP collector on real sockets (IPv4 and IPv6), with Debian's softflowd exporting a public
// capture to it live. Records must equal the capture's flows; metrics must say what happened.

describe('netflow collector with softflowd exporting live', () => {
  const softflowd = requireTool('softflowd');
  const tshark = requireTool('tshark');
  const capture = sharedFixture('pcap/loopback-http-udp.pcap');
  const registry = createRegistry();
  const records: FlowRecord[] = [];
  const state = tempDir();
  let source: Source & { ports?: number[] };
  let ports: number[] = [];

  beforeAll(async () => {
    const config = netflowSourceSchema.parse({
      type: 'netflow',
      listen: ['127.0.0.1:0', '[::1]:0'],
      receive_buffer: '4MiB',
      flush_interval: '50ms',
    });
    source = createNetflowSource(config, {
      logger: silentLogger(),
      registry,
      stateDir: state.path,
      onFatal: (err) => {
        throw err;
      },
      audit: () => undefined,
      out: { push: async (batch) => void records.push(...batch) },
    });
    await source.start();
    ports = source.ports ?? [];
  });

  afterAll(async () => {
    await source?.stop();
    state.remove();
  });

  function exportWith(version: number, target: string): void {
    const run = spawnSync(
      softflowd!,
      ['-r', capture!, '-n', target, '-v', String(version), '-a', '-A', 'milli', '-d', '-c', 'none', '-p', `${state.path}/softflowd.pid`],
      { timeout: 30_000, encoding: 'utf8' },
    );
    expect(run.status, run.stderr).toBe(0);
  }

  for (const [version, family] of [
    [5, 'v4'],
    [9, 'v6'],
    [10, 'v4'],
  ] as const) {
    it(`receives NetFlow ${version === 10 ? 'IPFIX' : `v${version}`} over ${family === 'v4' ? 'IPv4' : 'IPv6'}`, async (ctx) => {
      if (!softflowd || !tshark || !capture) return ctx.skip();
      records.length = 0;
      const truth = groundTruth(tshark, capture);
      const target = family === 'v4' ? `127.0.0.1:${ports[0]}` : `::1:${ports[1]}`;
      exportWith(version, target);
      await waitFor(() => records.length >= truth.size, 10_000, 'records from softflowd');
      const decoded = aggregate(records);
      expect([...decoded.keys()].sort()).toEqual([...truth.keys()].sort());
      for (const [key, want] of truth) {
        expect({ key, bytes: decoded.get(key)!.bytes, packets: decoded.get(key)!.packets }).toEqual({
          key,
          bytes: want.bytes,
          packets: want.packets,
        });
      }
      const exporter = family === 'v4' ? '127.0.0.1' : '::1';
      expect(records.every((r) => r.source.id === exporter && r.source.type === (version === 10 ? 'ipfix' : 'netflow'))).toBe(true);
    });
  }

  it('exposes collector metrics', async (ctx) => {
    if (!softflowd || !tshark || !capture) return ctx.skip();
    const text = await registry.metrics();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    expect(value(/egressd_netflow_packets_total\{version="v5"\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/egressd_netflow_packets_total\{version="ipfix"\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/egressd_netflow_records_total\{version="v9"\} (\d+)/)).toBe(11);
    expect(value(/egressd_source_records_total\{source="netflow",id="netflow"\} (\d+)/)).toBe(33);
    // softflowd sends 4 data templates and 1 options template per domain; v9 and IPFIX from two exporters.
    expect(value(/egressd_netflow_templates (\d+)/)).toBe(10);
    expect(value(/egressd_netflow_templates_received_total\{kind="data"\} (\d+)/)).toBe(8);
    expect(value(/egressd_netflow_exporter_last_seen_seconds\{exporter="127.0.0.1"\} ([\d.e+]+)/)).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(value(/egressd_netflow_exporter_last_seen_seconds\{exporter="::1"\} ([\d.e+]+)/)).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(value(/egressd_netflow_socket_drops\{listen="127.0.0.1:0"\} (\d+)/)).toBe(0);
    expect(value(/egressd_netflow_receive_buffer_bytes\{listen="\[::1\]:0"\} (\d+)/)).toBeGreaterThan(0);
    expect(text).toMatch(/egressd_source_lag_seconds\{source="netflow",id="netflow"\} \d/);
    expect(text).not.toMatch(/egressd_netflow_decode_errors_total\{reason="[a-z_]+"\} [1-9]/);
  });
});
