import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../support/env.js';
import { naiveFlowBaseline } from '../../eval/baseline.js';
import { cliPath, prepareRules, replay } from '../../eval/engine.js';
import { replayArguments, writeCorpus, type CorpusFormat } from '../../eval/formats.js';
import { generateCorpus } from '../../eval/generator.js';
import { qualityBar, scoreIncidents } from '../../eval/score.js';
import type { Corpus } from '../../eval/types.js';

// The quality bar of the detection issue on a small labelled corpus (60 hosts × 2 days), replayed
// through the built CLI in every text format (Squid native and combined): recall 100 % for BitTorrent hosts and swarms,
// ≥ 95 % for bulk acquisition, ≤ 1 false incident per 1,000 benign host-days.

const SEED = 4242;
const dir = tempDir('egressd-eval-quality-');
let corpus: Corpus;
let rulesDir: string;

beforeAll(() => {
  if (!existsSync(cliPath())) throw new Error(`the built CLI is missing (${cliPath()}): run npm run build first`);
  corpus = generateCorpus({ seed: SEED, hosts: 60, days: 2 });
  rulesDir = prepareRules(join(dir.path, 'rules')).dir;
});
afterAll(() => dir.remove());

describe.each<CorpusFormat>(['zeek', 'vpc', 'squid', 'squid-combined'])('egressd replay --format %s on the labelled corpus', (format) => {
  it('meets the quality bar', async () => {
    const file = join(dir.path, `corpus.${format}`);
    const window = { start: Date.parse(corpus.truth.start), end: Date.parse(corpus.truth.end) };
    expect(writeCorpus(format, file, corpus, window, SEED)).toBeGreaterThan(1000);
    const how = replayArguments(format);
    const r = await replay({
      files: [file],
      format: how.format,
      extraArgs: how.extra,
      rulesDir,
      stateDir: join(dir.path, `state-${format}`),
      outFile: join(dir.path, `incidents-${format}.jsonl`),
      timeoutMs: 170_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.unparsed).toBe(0);
    const score = scoreIncidents(r.incidents, corpus.truth);
    const report = {
      bittorrent: score.kinds.bittorrent.missed,
      bulk: score.kinds.bulk_acquisition.missed,
      swarms: score.kinds.swarm.missed,
      false: score.verdicts.filter((v) => v.verdict === 'false'),
    };
    // Soft: one run reports every part of the bar that does not hold.
    expect.soft(score.kinds.bittorrent.recall, `BitTorrent hosts missed: ${JSON.stringify(report.bittorrent)}`).toBe(1);
    expect.soft(score.kinds.swarm.recall, `swarms missed: ${JSON.stringify(report.swarms)}`).toBe(1);
    expect.soft(score.kinds.bulk_acquisition.recall ?? 0, `bulk hosts missed: ${JSON.stringify(report.bulk)}`).toBeGreaterThanOrEqual(0.95);
    expect.soft(score.falsePer1000BenignHostDays, `false incidents: ${JSON.stringify(report.false)}`).toBeLessThanOrEqual(1);
    expect(qualityBar(score).pass).toBe(true);
  });
});

describe('the naive baseline on the same corpus', () => {
  it('is worse than the bar on false incidents (the corpus carries benign heavy users)', () => {
    const score = scoreIncidents(naiveFlowBaseline(corpus.conns, Date.parse(corpus.truth.start)), corpus.truth);
    expect(score.falsePer1000BenignHostDays).toBeGreaterThan(1);
    expect(score.kinds.swarm.recall).toBe(0);
  });
});
