import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaTarget } from '../../../src/sinks/clickhouse/client.js';
import { clickhouseSchema } from '../../../src/sinks/clickhouse/config.js';
import { hostTotalsSql } from '../../../src/sinks/clickhouse/schema.js';
import { readJournal } from '../../../src/sinks/journal/index.js';
import { writeZeekCorpus } from '../../support/corpus.js';
import { CLI, REPO_ROOT, requireTool, runCli, tempDir } from '../../support/env.js';
import { rows, scalar } from './helpers.js';
import { startClickhouseServer, type ClickhouseServer } from './server.js';

// End to end: `egressd replay` with ClickHouse configured through the environment. What lands
// in ClickHouse must equal, exactly, what the journal recorded (incident changes, audit events)
// and what the pipeline emitted (per-host flow totals).

const installed = requireTool('clickhouse-server') !== undefined;
const dir = tempDir('egressd-ch-replay-');
let server: ClickhouseServer | undefined;

beforeAll(async () => {
  if (!installed) return;
  if (!existsSync(CLI)) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'ignore' });
    } catch {
      // other areas may have type errors in progress; the emitted JS is what we need
    }
  }
  server = await startClickhouseServer();
});

afterAll(async () => {
  await server?.stop();
  server?.remove();
  dir.remove();
});

describe.skipIf(!installed)('egressd replay into ClickHouse', () => {
  it('stores exactly what the journal holds and the pipeline emitted', async () => {
    expect(existsSync(CLI), `${CLI} missing: run npm run build`).toBe(true);
    const log = join(dir.path, 'conn.log');
    await writeZeekCorpus(log, { lines: 5000, hosts: 20 });
    const stateDir = join(dir.path, 'state');
    const r = runCli(['replay', '--rules', join(REPO_ROOT, 'rules'), '--state-dir', stateDir, '--emit', 'records', log], {
      env: { EGRESSD_CLICKHOUSE_URL: server!.url, EGRESSD_CLICKHOUSE_DATABASE: 'egressd_replay', EGRESSD_LOG_LEVEL: 'warn' },
    });
    expect(r.code, r.stderr).toBe(0);

    // flow aggregates = the emitted records, per internal host
    const perHost = new Map<string, { bytesIn: number; bytesOut: number; records: number }>();
    for (const line of r.stdout.trim().split('\n')) {
      const rec = JSON.parse(line) as { host?: string; remote?: { ip: string }; bytesIn: number; bytesOut: number };
      if (!rec.host || !rec.remote) continue;
      const t = perHost.get(rec.host) ?? { bytesIn: 0, bytesOut: 0, records: 0 };
      t.bytesIn += rec.bytesIn;
      t.bytesOut += rec.bytesOut;
      t.records += 1;
      perHost.set(rec.host, t);
    }
    expect(perHost.size).toBeGreaterThan(0);
    const target = schemaTarget(clickhouseSchema.parse({ database: 'egressd_replay' }));
    const totals = await rows<Record<string, string>>(server!, hostTotalsSql(target, 0, 4_000_000_000));
    expect(new Map(totals.map((t) => [t.host!, { bytesIn: Number(t.bytes_in), bytesOut: Number(t.bytes_out), records: Number(t.records) }]))).toEqual(perHost);

    // incident changes and audit events = the journal
    const changes = new Set<string>();
    const latest = new Map<string, number>();
    const auditKinds: string[] = [];
    for await (const entry of readJournal(stateDir)) {
      if (entry.type === 'incident' && entry.incident) {
        const version = entry.incident.version ?? 0;
        changes.add(`${entry.incident.id}@${version}`);
        latest.set(entry.incident.id, Math.max(latest.get(entry.incident.id) ?? 0, version));
      } else if (entry.event && entry.event.action !== 'triage') {
        auditKinds.push(entry.event.action);
      }
    }
    expect(changes.size).toBeGreaterThan(0);
    const stored = await rows<{ id: string; version: string }>(server!, 'SELECT id, version FROM egressd_replay.incident_changes FINAL');
    expect(stored).toHaveLength(changes.size);
    expect(new Set(stored.map((s) => `${s.id}@${s.version}`))).toEqual(changes);
    const current = await rows<{ id: string; version: string }>(server!, 'SELECT id, max(version) AS version FROM egressd_replay.incidents GROUP BY id');
    expect(new Map(current.map((c) => [c.id, Number(c.version)]))).toEqual(latest);
    const events = await rows<{ kind: string }>(server!, "SELECT kind FROM egressd_replay.heartbeats FINAL WHERE kind NOT IN ('heartbeat', 'sink_start', 'sink_stop')");
    expect(events.map((e) => e.kind).sort()).toEqual(auditKinds.sort());
    expect(await scalar(server!, 'SELECT count() FROM egressd_replay.schema_migrations')).toBe(1);
  });
});
