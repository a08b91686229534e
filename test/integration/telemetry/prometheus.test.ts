import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, freePort, requireTool, startProcess, stopProcess, tempDir, waitFor } from '../../support/env.js';

// A real Prometheus scrapes a running daemon over loopback.
const prometheus = requireTool('prometheus');
const dir = tempDir('egressd-prom-');
afterAll(() => dir.remove());

interface QueryResult {
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe.skipIf(!prometheus)('Prometheus scrape', () => {
  it('scrapes egressd metrics with no per-IP labels', async () => {
    const metricsPort = await freePort();
    const promPort = await freePort();
    const config = join(dir.path, 'egressd.yaml');
    writeFileSync(config, [`state_dir: ${join(dir.path, 'state')}`, `rules_dir: ${join(REPO_ROOT, 'rules')}`, 'telemetry:', `  listen: 127.0.0.1:${metricsPort}`].join('\n'));
    const daemon = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: 'ignore' });
    const promConfig = join(dir.path, 'prometheus.yml');
    writeFileSync(
      promConfig,
      ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: egressd', '    static_configs:', `      - targets: ['127.0.0.1:${metricsPort}']`].join('\n'),
    );
    const prom = startProcess(prometheus!, [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${join(dir.path, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    const query = async (q: string) =>
      (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as QueryResult;
    try {
      await waitFor(async () => (await query('up{job="egressd"}')).data.result[0]?.value[1] === '1', 60_000, `prometheus scrape (${prom.output()})`);
      const series = await query('{__name__=~"egressd_.+"}');
      const names = new Set(series.data.result.map((r) => r.metric.__name__));
      expect(names.has('egressd_process_cpu_user_seconds_total')).toBe(true);
      const labelValues = series.data.result.flatMap((r) => Object.entries(r.metric).filter(([k]) => k !== 'instance').map(([, v]) => v));
      expect(labelValues.filter((v) => /^\d+\.\d+\.\d+\.\d+$/.test(v))).toEqual([]);
    } finally {
      await stopProcess(prom.child);
      await stopProcess(daemon);
    }
  });
});
