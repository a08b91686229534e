import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { CommonDeps } from '../../../src/daemon/component.js';
import { clickhouseSchema, type ClickhouseConfig } from '../../../src/sinks/clickhouse/config.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import type { ClickhouseServer } from './server.js';

export function sinkConfig(server: { url: string }, overrides: Record<string, unknown> = {}): ClickhouseConfig {
  return clickhouseSchema.parse({
    url: server.url,
    database: 'egressd_test',
    gateway: 'gw-a',
    batch: { max_rows: 50, max_age: '100ms', max_pending: 4 },
    flows: { flush_interval: '200ms' },
    spool: { retry_min: '200ms', retry_max: '1s' },
    retention: { check_interval: 0 },
    heartbeat_interval: 0,
    ...overrides,
  });
}

export function deps(stateDir: string, registry = new Registry()): CommonDeps {
  return {
    logger: silentLogger(),
    registry,
    stateDir,
    onFatal: (err) => {
      throw err;
    },
    audit: () => undefined,
  };
}

export async function rows<T = Record<string, string>>(server: ClickhouseServer, sql: string): Promise<T[]> {
  const text = await server.query(sql.includes('FORMAT') ? sql : `${sql} FORMAT JSONEachRow`);
  return text
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as T);
}

export async function scalar(server: ClickhouseServer, sql: string): Promise<number> {
  return Number((await server.query(sql)).trim());
}

export function spoolDir(stateDir: string): string {
  return join(stateDir, 'clickhouse-spool');
}
