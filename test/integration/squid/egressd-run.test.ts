import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Incident } from '../../../src/incidents/types.js';
import { CLI, startProcess, stopProcess, tempDir } from '../../support/env.js';
import { CLIENT_A, CLIENT_B, INFO_HASH, ORIGIN_HOST, driveTraffic, startSquid, type SquidHarness } from './harness.js';

// The daemon end to end on a real Squid: `egressd run` tails Squid's access.log (file source,
// format squid) while a scripted mass download and a tracker announce go through the proxy,
// and the incidents land in the journal.

interface JournalEntry {
  seq: number;
  type: string;
  change?: string;
  incident?: Incident;
}

function journalIncidents(stateDir: string): Incident[] {
  const dir = join(stateDir, 'journal');
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort();
  } catch {
    return [];
  }
  const out: Incident[] = [];
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      const entry = JSON.parse(line) as JournalEntry;
      if (entry.type === 'incident' && entry.incident) out.push(entry.incident);
    }
  }
  return out;
}

/** Wait for an incident kind; fail at once if the daemon exits. */
async function waitForIncident(stateDir: string, kind: string, daemon: ReturnType<typeof startProcess> | undefined): Promise<void> {
  const deadline = Date.now() + 170_000;
  while (!journalIncidents(stateDir).some((i) => i.kind === kind)) {
    if (daemon && daemon.child.exitCode !== null) throw new Error(`egressd exited (${daemon.child.exitCode}):\n${daemon.output()}`);
    if (Date.now() > deadline) {
      throw new Error(`no ${kind} incident after 170 s\n--- incidents ---\n${JSON.stringify(journalIncidents(stateDir))}\n--- egressd ---\n${daemon?.output() ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('egressd run tailing a real squid access.log', () => {
  let h: SquidHarness | undefined;
  let daemon: ReturnType<typeof startProcess> | undefined;
  let work: ReturnType<typeof tempDir> | undefined;

  beforeAll(async () => {
    h = await startSquid();
    if (!h) return;
    work = tempDir('egressd-squid-run-');
    const rules = join(work.path, 'rules');
    mkdirSync(rules);
    // The two loopback clients are the internal hosts; the origin (127.0.0.3) is outside.
    writeFileSync(join(rules, 'networks.yaml'), 'internal:\n  - 127.0.0.2/32\n  - 127.0.0.4/32\n');
    writeFileSync(join(rules, 'approved-sources.yaml'), 'sources: []\n');
    // The detection defaults (an empty file gives the shipped rules), with one change: the
    // bulk rule's minimum score. The defaults are tuned for volumes far beyond what a test
    // pushes through loopback in a minute (60 sequential 1.5 MiB objects score about 5);
    // every threshold and weight stays as shipped.
    writeFileSync(join(rules, 'detection.yaml'), 'rules:\n  bulk_acquisition:\n    min_score: 3\n');
    const stateDir = join(work.path, 'state');
    const config = join(work.path, 'egressd.yaml');
    writeFileSync(
      config,
      [
        `state_dir: ${stateDir}`,
        `rules_dir: ${rules}`,
        'telemetry:',
        "  listen: ''",
        'sources:',
        '  - type: file',
        '    format: squid',
        `    paths: [${h.accessLog}]`,
        '    poll_interval: 200ms',
        '    squid:',
        '      logformat: squid',
        '',
      ].join('\n'),
    );
    daemon = startProcess(process.execPath, [CLI, 'run', '--config', config, '--log-level', 'warn']);
    await driveTraffic(h);
  });

  afterAll(async () => {
    await stopProcess(daemon?.child, 15_000);
    await h?.stop();
    work?.remove();
  });

  test('a tracker announce and a .torrent through the proxy open a bittorrent incident for that client only', async () => {
    if (!h || !work) return;
    const stateDir = join(work.path, 'state');
    // Findings are emitted when the event-time minute closes: allow for that and a loaded host.
    await waitForIncident(stateDir, 'bittorrent', daemon);
    const bt = journalIncidents(stateDir).filter((i) => i.kind === 'bittorrent');
    const last = bt.at(-1)!;
    expect(last.hosts).toEqual([CLIENT_B]);
    expect(last.evidence.info_hashes).toContain(INFO_HASH);
    expect(last.approved_source).toBeNull();
  }, 200_000);

  test('the scripted mass download of sequential large media objects raises bulk acquisition', async () => {
    if (!h || !work) return;
    const stateDir = join(work.path, 'state');
    await waitForIncident(stateDir, 'bulk_acquisition', daemon);
    const bulk = journalIncidents(stateDir).filter((i) => i.kind === 'bulk_acquisition').at(-1)!;
    expect(bulk.hosts).toEqual([CLIENT_A]);
    const signals = new Map(bulk.evidence.signals.map((s) => [s.name, s.value]));
    expect(signals.get('sequential_1h')).toBeGreaterThanOrEqual(20);
    expect(signals.get('large_objects_1h')).toBeGreaterThanOrEqual(30);
    expect(bulk.evidence.bytes_in).toBeGreaterThan(50 * 1024 * 1024);
    expect(JSON.stringify(bulk.evidence.remotes)).toContain(ORIGIN_HOST);
  }, 200_000);
});
