import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../src/record.js';
import { CLI, IN_CI, REPO_ROOT, freePort, requireTool, runCli, sharedFixture, startProcess, stopProcess, tempDir, waitFor } from '../../support/env.js';
import { flowKey, groundTruth } from './ground-truth.js';

// End to end through the built CLI: `egressd run` collecting IPFIX that softflowd exports live,
// and `egressd replay --format netflow` over a recorded export. Records must reach the pipeline
// (enrichment, detection) and the journal must record the run.

function cliBuilt(): boolean {
  if (existsSync(CLI)) return true;
  if (IN_CI) throw new Error(`CLI not built: ${CLI} (run npm run build first)`);
  console.warn('[skip] CLI not built; run npm run build');
  return false;
}

/** Per 5-tuple bytes/packets of enriched records (oriented: one side's counters are zero). */
function totals(records: FlowRecord[]): Map<string, { bytes: number; packets: number }> {
  const m = new Map<string, { bytes: number; packets: number }>();
  for (const r of records) {
    const key = flowKey(r.src, r.srcPort, r.dst, r.dstPort, r.proto);
    const t = m.get(key) ?? { bytes: 0, packets: 0 };
    t.bytes += r.bytesOut + r.bytesIn;
    t.packets += r.packetsOut + r.packetsIn;
    m.set(key, t);
  }
  return m;
}

describe('egressd CLI with NetFlow/IPFIX', () => {
  const softflowd = requireTool('softflowd');
  const tshark = requireTool('tshark');
  const capture = sharedFixture('ndpi/bittorrent/bittorrent.pcap');
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('replay --format netflow decodes a recorded IPFIX export into enriched records', async (ctx) => {
    if (!tshark || !capture || !cliBuilt()) return ctx.skip();
    const file = join(REPO_ROOT, 'src', 'decode', 'netflow', 'testdata', 'softflowd-bittorrent-v10.pcap');
    const result = runCli(['replay', '--format', 'netflow', '--emit', 'records', '--rules', join(REPO_ROOT, 'rules'), file]);
    expect(result.code, result.stderr).toBe(0);
    const records = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as FlowRecord);
    const truth = groundTruth(tshark, capture);
    const got = totals(records);
    expect([...got.keys()].sort()).toEqual([...truth.keys()].sort());
    for (const [key, want] of truth) expect({ key, ...got.get(key) }).toEqual({ key, bytes: want.bytes, packets: want.packets });
    // Enrichment oriented every record on the internal host of the capture.
    expect(records.every((r) => r.host === '192.168.1.3' && r.source.type === 'ipfix')).toBe(true);
  });

  it('run: softflowd exports live to the daemon; records reach detection and the journal', async (ctx) => {
    if (!softflowd || !tshark || !capture || !cliBuilt()) return ctx.skip();
    const telemetryPort = await freePort();
    const netflowPort = await freePort();
    const stateDir = join(dir.path, 'state');
    const config = join(dir.path, 'egressd.yaml');
    writeFileSync(
      config,
      [
        `state_dir: ${stateDir}`,
        `rules_dir: ${join(REPO_ROOT, 'rules')}`,
        `telemetry: { listen: '127.0.0.1:${telemetryPort}' }`,
        'sources:',
        `  - { type: netflow, listen: ['127.0.0.1:${netflowPort}'] }`,
      ].join('\n'),
    );
    const daemon = startProcess(process.execPath, [CLI, 'run', '--config', config]);
    try {
      const metrics = async () => (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`)).text();
      await waitFor(async () => (await metrics()).includes('egressd_netflow_templates'), 60_000, 'daemon metrics');
      const run = spawnSync(
        softflowd,
        ['-r', capture, '-n', `127.0.0.1:${netflowPort}`, '-v', '10', '-a', '-A', 'milli', '-d', '-c', 'none', '-p', join(dir.path, 'sf.pid')],
        { timeout: 30_000, encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
      const truth = groundTruth(tshark, capture);
      const value = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
      await waitFor(
        async () => value(await metrics(), /egressd_pipeline_records_total\{outcome="egress"\} (\d+)/) >= truth.size,
        30_000,
        `${truth.size} records through the pipeline\n${daemon.output()}`,
      );
      const text = await metrics();
      expect(value(text, /egressd_netflow_records_total\{version="ipfix"\} (\d+)/)).toBe(truth.size);
      expect(value(text, /egressd_netflow_templates (\d+)/)).toBe(5);
      expect(text).toMatch(/egressd_netflow_exporter_last_seen_seconds\{exporter="127.0.0.1"\} \d/);
      await stopProcess(daemon.child, 20_000);
      expect(daemon.child.exitCode, daemon.output()).toBe(0);
    } finally {
      await stopProcess(daemon.child);
    }
    // The journal is intact and its stop event carries the event time of the newest flow.
    const verify = runCli(['verify', '--config', config]);
    expect(verify.stdout).toMatch(/journal ok/);
    const journalDir = join(stateDir, 'journal');
    const entries = readdirSync(journalDir)
      .filter((f) => f.endsWith('.ndjson'))
      .flatMap((f) => readFileSync(join(journalDir, f), 'utf8').trim().split('\n'))
      .map((l) => JSON.parse(l) as { type: string; event?: { action?: string; event_time?: number } });
    const stop = entries.find((e) => e.type === 'audit' && e.event?.action === 'stop');
    const newest = Math.max(...[...groundTruth(tshark, capture).values()].map((f) => f.connectionLast!));
    expect(Math.abs(stop!.event!.event_time! - newest)).toBeLessThanOrEqual(1);
  });
});
