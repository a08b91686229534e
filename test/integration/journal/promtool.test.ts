import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { journalSchema } from '../../../src/sinks/journal/config.js';
import { createJournalSink } from '../../../src/sinks/journal/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createRegistry } from '../../../src/telemetry/metrics.js';
import { createTelemetryServer } from '../../../src/telemetry/server.js';
import { requireTool, tempDir } from '../../support/env.js';

// The telemetry server's /metrics, with the journal's metrics populated by real writes, passes
// Prometheus' own exposition checker.
const promtool = requireTool('promtool');
const state = tempDir('egressd-journal-promtool-');
afterAll(() => state.remove());

describe.skipIf(!promtool)('promtool check metrics', () => {
  it('accepts /metrics served over loopback after journal writes and a rotation', async () => {
    const registry = createRegistry({ defaultMetrics: true });
    const logger = silentLogger();
    const sink = createJournalSink(journalSchema.parse({ rotate_size: 2048 }), {
      logger,
      registry,
      stateDir: state.path,
      onFatal: (err) => {
        throw err;
      },
      audit: () => undefined,
    });
    const server = createTelemetryServer({ listen: '127.0.0.1:0', registry, logger, ready: () => true });
    await sink.start();
    await server.start();
    try {
      await Promise.all(
        Array.from({ length: 50 }, (_, n) => sink.write([{ type: 'audit', event: { action: 'checkpoint', at: Date.now(), n } }])),
      );
      const { host, port } = server.address()!;
      const response = await fetch(`http://${host}:${port}/metrics`);
      expect(response.status).toBe(200);
      const body = await response.text();
      expect(body).toMatch(/^egressd_journal_entries_total\{type="audit"\} 50$/m);
      expect(body).toMatch(/^egressd_journal_rotations_total [1-9]\d*$/m);
      expect(body).toMatch(/^egressd_journal_fsync_seconds_count [1-9]\d*$/m);
      expect(body).toMatch(/^egressd_journal_pending_entries 0$/m);

      const check = spawnSync(promtool!, ['check', 'metrics'], { input: body, encoding: 'utf8' });
      const output = `${check.stdout}${check.stderr}`;
      // Exit 1 is a parse error; 3 means lint findings, which prom-client's own default process
      // metrics have (gauges named *_total). Ours must have none.
      expect(check.status === 0 || check.status === 3, output).toBe(true);
      const findings = output.split('\n').filter((l) => l.trim() !== '');
      const ours = findings.filter((l) => !/^egressd_(nodejs|process)_/.test(l));
      expect(ours).toEqual([]);
    } finally {
      await server.stop();
      await sink.stop();
    }
  });
});
