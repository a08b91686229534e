import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { load as parse } from 'js-yaml';
import { detectSchema, detectionRulesSchema } from './config.js';

const RULES_FILE = join(import.meta.dirname, '..', '..', 'rules', 'detection.yaml');

describe('detection config', () => {
  it('parses {} into full defaults', () => {
    const config = detectSchema.parse({});
    expect(config.windows).toEqual({ short: 60_000, medium: 3_600_000, long: 86_400_000 });
    expect(config.snapshot.enabled).toBe(true);
    const rules = detectionRulesSchema.parse({});
    expect(rules.rules.bittorrent.id).toBe('bt.protocol');
    expect(rules.rules.bulk_acquisition.signals.bytes_in_1h.threshold).toBe(4 * 1024 ** 3);
    expect(rules.lifecycle.quiet_period).toBe(4 * 3_600_000);
  });

  it('the shipped rules/detection.yaml parses and states exactly the defaults', () => {
    const shipped = detectionRulesSchema.parse(parse(readFileSync(RULES_FILE, 'utf8')));
    expect(shipped).toEqual(detectionRulesSchema.parse({}));
  });

  it('a partial override keeps every other default', () => {
    const rules = detectionRulesSchema.parse({ rules: { bulk_acquisition: { rev: 2, signals: { duty_24h: { threshold: 18, saturate: 24, weight: 0.2 } } } } });
    expect(rules.rules.bulk_acquisition.rev).toBe(2);
    expect(rules.rules.bulk_acquisition.signals.duty_24h.threshold).toBe(18);
    expect(rules.rules.bulk_acquisition.signals.bytes_in_1m.threshold).toBe(100 * 1024 ** 2);
  });

  it('rejects unknown signals, bad windows and inverted bands with the path', () => {
    const typo = detectionRulesSchema.safeParse({ rules: { bulk_acquisition: { require_groups: [['bytes_in_1hour']] } } });
    expect(typo.success).toBe(false);
    expect(JSON.stringify(typo.error?.issues)).toContain('bytes_in_1hour');
    expect(detectionRulesSchema.safeParse({ severity: { medium: 90, high: 50 } }).success).toBe(false);
    expect(detectSchema.safeParse({ windows: { short: '7m' } }).success).toBe(false);
    expect(detectSchema.safeParse({ windows: { long: '90m' } }).success).toBe(false);
    expect(detectionRulesSchema.safeParse({ rules: { swarm: { signals: { hosts: { threshold: 5, saturate: 2, weight: 1 } } } } }).success).toBe(false);
  });
});
