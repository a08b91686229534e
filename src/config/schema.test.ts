import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { load as parseYaml } from 'js-yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EgressdError } from '../errors.js';
import { applyEnvironment, loadConfig } from './load.js';
import { configSchema, sourceSchema } from './schema.js';
import { loadRules } from './rules.js';

function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'egressd-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('config schema', () => {
  it('parses {} into full defaults', () => {
    const config = configSchema.parse({});
    expect(config.state_dir).toBe('/var/lib/egressd');
    expect(config.telemetry.listen).toBe('127.0.0.1:9187');
    expect(config.pipeline.shutdown_grace).toBe(30_000);
    expect(config.journal.rotate_size).toBe(64 * 1024 * 1024);
    expect(config.sources).toEqual([]);
    expect(config.clickhouse.url).toBe('');
  });

  it.each(['file', 'netflow', 'syslog', 'pcap'])('every source type has defaults beyond its required fields (%s)', (type) => {
    const minimal: Record<string, unknown> = { type };
    if (type === 'file') Object.assign(minimal, { format: 'zeek', paths: ['/var/log/zeek/conn.log'] });
    if (type === 'syslog') Object.assign(minimal, { udp: '127.0.0.1:5514' });
    const parsed = sourceSchema.parse(minimal);
    expect(parsed.type).toBe(type);
  });

  it('names the path, the bad value and what was expected', () => {
    const path = writeTemp('bad.yaml', 'telemetry:\n  listen: "not an address"\npipeline:\n  shutdown_grace: soon\n');
    let error: unknown;
    try {
      loadConfig(path);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EgressdError);
    const e = error as EgressdError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('telemetry.listen');
    expect(e.message).toContain('"not an address"');
    expect(e.message).toContain('expected host:port');
    expect(e.message).toContain('pipeline.shutdown_grace');
    expect(e.message).toContain('"soon"');
  });

  it('rejects unknown keys so typos do not pass silently', () => {
    const path = writeTemp('typo.yaml', 'state_dri: /tmp/x\n');
    expect(() => loadConfig(path)).toThrow(/state_dri|Unrecognized/);
  });

  it('reports YAML syntax errors with the file name', () => {
    const path = writeTemp('syntax.yaml', 'sources: [\n');
    expect(() => loadConfig(path)).toThrow(/syntax\.yaml: not valid YAML/);
  });

  it('lets the ClickHouse environment variables override the file', () => {
    const merged = applyEnvironment(
      { clickhouse: { url: 'http://file:8123', database: 'a' } },
      { EGRESSD_CLICKHOUSE_URL: 'http://127.0.0.1:8123', EGRESSD_CLICKHOUSE_USER: 'ops' },
    );
    expect(merged.clickhouse).toEqual({ url: 'http://127.0.0.1:8123', database: 'a', user: 'ops' });
  });

  it('applies --state-dir and --rules overrides', () => {
    const config = loadConfig(undefined, { stateDir: '/tmp/s', rulesDir: '/tmp/r' }, {});
    expect(config.state_dir).toBe('/tmp/s');
    expect(config.rules_dir).toBe('/tmp/r');
  });
});

describe('rules', () => {
  it('loads the shipped rules directory', () => {
    const rules = loadRules(join(import.meta.dirname, '..', '..', 'rules'));
    expect(rules.networks.internal.length).toBeGreaterThan(0);
    expect(rules.approved.sources.map((s) => s.name)).toContain('debian-mirrors');
    expect(rules.digests.networks).toMatch(/^[0-9a-f]{64}$/);
  });

  it('uses defaults for absent files and names a bad entry', () => {
    const dir = mkdtempSync(join(tmpdir(), 'egressd-rules-'));
    expect(loadRules(dir).digests.approved).toBe('absent');
    writeFileSync(join(dir, 'approved-sources.yaml'), 'sources:\n  - name: x\n    owner: y\n    match:\n      cidrs: [10.0.0.0/33]\n');
    expect(() => loadRules(dir)).toThrow(/sources\[0\]\.match\.cidrs\[0\].*"10\.0\.0\.0\/33"/);
  });
});

describe('deploy/egressd.yaml', () => {
  const example = loadConfig(join(import.meta.dirname, '..', '..', 'deploy', 'egressd.yaml'));
  const raw = parseYaml(readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'egressd.yaml'), 'utf8')) as Record<string, unknown>;

  function leafPaths(value: unknown, prefix = ''): string[] {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }

  it('documents every top-level and component option', () => {
    const defaults = configSchema.parse({});
    const written = new Set(leafPaths(raw));
    const missing = leafPaths({ ...defaults, sources: undefined }).filter((p) => p !== 'sources' && !written.has(p));
    expect(missing).toEqual([]);
  });

  it('shows every source type with every option', () => {
    const rawSources = raw.sources as Record<string, unknown>[];
    for (const source of example.sources) {
      const documented = new Set(rawSources.filter((s) => s.type === source.type).flatMap((s) => leafPaths(s)));
      const optional = ['id'];
      const missing = leafPaths(source).filter((p) => !documented.has(p) && !optional.includes(p));
      expect(missing, source.type).toEqual([]);
    }
    expect(new Set(example.sources.map((s) => s.type))).toEqual(new Set(['netflow', 'file', 'syslog', 'pcap']));
  });
});
