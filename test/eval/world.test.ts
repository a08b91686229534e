import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { load as parse } from 'js-yaml';
import { Enricher, approvedSourcesSchema, networksSchema } from '../../src/enrich/index.js';
import type { FlowRecord } from '../../src/record.js';
import { generateCorpus } from './generator.js';
import { SERVICES } from './world.js';

const rulesDir = join(import.meta.dirname, 'rules');
const load = (file: string): unknown => parse(readFileSync(join(rulesDir, file), 'utf8'));

describe('rules of the simulated company', () => {
  const enricher = new Enricher(networksSchema.parse(load('networks.yaml')), approvedSourcesSchema.parse(load('approved-sources.yaml')));
  const record = (src: string, dst: string, serverName?: string): FlowRecord => ({
    ts: Date.UTC(2026, 5, 15),
    tsEnd: Date.UTC(2026, 5, 15),
    src,
    srcPort: 50_000,
    dst,
    dstPort: 443,
    proto: 6,
    bytesOut: 1,
    bytesIn: 1,
    packetsOut: 1,
    packetsIn: 1,
    ...(serverName ? { serverName } : {}),
    source: { type: 'zeek', id: 'test' },
  });

  it('approve exactly the services the world marks approved, by address and by name', () => {
    for (const service of Object.values(SERVICES) as { name: string; ips: string[]; approved?: string }[]) {
      for (const ip of service.ips) {
        const byIp = record('10.20.0.5', ip);
        expect(enricher.enrich(byIp)).toBe(true);
        expect(byIp.approval?.name ?? null).toBe(service.approved ?? null);
      }
      const byName = record('10.20.0.5', '203.0.113.1', service.name);
      enricher.enrich(byName);
      expect(byName.approval?.name ?? null).toBe(service.approved ?? null);
    }
  });

  it('treat every generated host as internal and every remote as egress or office peer', () => {
    const corpus = generateCorpus({ seed: 2, hosts: 30, days: 1 });
    for (const h of corpus.truth.hosts) expect(enricher.isInternal(h.ip)).toBe(true);
    for (const c of corpus.conns) {
      if (c.activity === 'delivery_optimization' && c.remote.startsWith('10.')) continue;
      expect(enricher.isInternal(c.remote)).toBe(false);
    }
  });
});
