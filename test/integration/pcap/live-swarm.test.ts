// Runs the capture script with real clients on loopback (opentracker, transmission-cli,
// aria2c, qbittorrent-nox, curl against a local node HTTPS server), then replays the fresh captures: every
// flow ndpiReader calls BitTorrent is BitTorrent to egressd, the MSE swarm is attributed
// through the tracker's peers, and the benign downloads are named and not BitTorrent.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IN_CI, REPO_ROOT, requireTool, tempDir } from '../../support/env.js';
import { egressdFlows, parseNdpiFlows, replayFile, runNdpiReader } from './ndpi.js';

const TOOLS = ['tcpdump', 'opentracker', 'mktorrent', 'transmission-cli', 'transmission-show', 'aria2c', 'qbittorrent-nox', 'openssl', 'curl', 'ndpiReader'];
const missing = TOOLS.filter((t) => requireTool(t) === undefined);
const privileged = process.getuid?.() === 0;
if (!privileged) {
  if (IN_CI) throw new Error('live capture test needs root (tcpdump -i lo) under CI');
  console.warn('[skip] live capture test needs root for tcpdump -i lo');
}
const run = missing.length === 0 && privileged;
const dir = tempDir('egressd-live-captures-');
afterAll(() => dir.remove());

describe.runIf(run)('captures of real clients on loopback', () => {
  it('builds the captures and identifies every swarm flow nDPI identifies', { timeout: 300_000 }, async () => {
    // Asynchronously: the test worker must keep answering the runner for the minute this takes.
    await promisify(execFile)(join(REPO_ROOT, 'test', 'captures', 'make-captures.sh'), [dir.path], { timeout: 280_000, maxBuffer: 16 * 1024 * 1024 });
    const list = JSON.parse(readFileSync(join(dir.path, 'captures.json'), 'utf8')) as { file: string; negative: boolean }[];
    expect(list.map((c) => c.file)).toEqual(['swarm-http-tracker.pcap', 'swarm-mse.pcap', 'swarm-udp-tracker.pcap', 'swarm-utp-mse.pcap', 'benign-http-tls.pcap']);
    const via = new Map<string, Set<string>>();
    for (const capture of list) {
      const file = join(dir.path, capture.file);
      const { records } = await replayFile(file);
      const flows = egressdFlows(records);
      const ndpi = parseNdpiFlows(runNdpiReader(requireTool('ndpiReader')!, file));
      const missed = [...ndpi.values()].filter((f) => f.bittorrent && !flows.get(f.key)?.bittorrent).map((f) => f.key);
      expect(missed, capture.file).toEqual([]);
      const bt = records.filter((r) => r.app?.name === 'bittorrent');
      via.set(capture.file, new Set(bt.map((r) => r.app!.via!)));
      if (capture.negative) {
        expect(bt).toEqual([]);
        expect(records.map((r) => r.serverName).sort()).toEqual(['127.0.0.1', 'downloads.example.org', 'localhost', 'mirror.example.net']);
        expect(records.filter((r) => r.url).map((r) => r.url)).toContain('http://downloads.example.org/pub/dataset-part-0002.bin');
      } else {
        // The bulk of the swarm's bytes is in flows egressd attributes to BitTorrent.
        const total = records.reduce((n, r) => n + r.bytesIn + r.bytesOut, 0);
        const attributed = bt.reduce((n, r) => n + r.bytesIn + r.bytesOut, 0);
        expect(attributed / total, capture.file).toBeGreaterThan(0.95);
        expect(new Set(bt.map((r) => r.app!.infoHash)).size, capture.file).toBe(1);
      }
    }
    expect([...via.get('swarm-http-tracker.pcap')!].sort()).toEqual(['handshake', 'tracker']);
    expect([...via.get('swarm-mse.pcap')!].sort()).toEqual(['known_peer', 'tracker']);
    // nDPI does not see UDP trackers; egressd does.
    expect([...via.get('swarm-udp-tracker.pcap')!]).toEqual(['udp_tracker']);
    // qbittorrent-nox over uTP with encryption: the uTP headers, and the announces.
    expect([...via.get('swarm-utp-mse.pcap')!].sort()).toEqual(['tracker', 'utp']);
  });
});
