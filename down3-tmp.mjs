const D = '/work/main/dist/src';
const { readFileSync, mkdtempSync } = await import('node:fs');
const records = JSON.parse(readFileSync('/tmp/exp/down-records.json', 'utf8'));
const { detectSchema, detectionRulesSchema } = await import(D + '/detect/config.js');
const { createDetectionEngine } = await import(D + '/detect/index.js');
const { Enricher, approvedSourcesSchema, networksSchema } = await import(D + '/enrich/index.js');
const { silentLogger } = await import(D + '/telemetry/logger.js');
const { Registry } = await import('prom-client');
const enr = new Enricher(networksSchema.parse({}), approvedSourcesSchema.parse({}));
const engine = createDetectionEngine({ config: detectSchema.parse({}), rules: detectionRulesSchema.parse({}), logger: silentLogger(), registry: new Registry(), stateDir: mkdtempSync('/tmp/egressd-down-') });
globalThis.gc?.(); globalThis.gc?.();
function downstream() {
  let changes = 0;
  for (let i = 0; i < records.length; i += 512) {
    let maxTs = 0;
    const batch = records.slice(i, i + 512);
    for (const r of batch) { if (enr.enrich(r)) engine.observe(r); const ts = r.tsEnd > r.ts ? r.tsEnd : r.ts; if (ts > maxTs) maxTs = ts; }
    changes += engine.advance(maxTs).length;
  }
  return changes + engine.flush().length;
}
const t0 = performance.now();
const changes = downstream();
console.log('downstream', (performance.now() - t0).toFixed(0), 'ms', changes);
