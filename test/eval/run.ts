import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { naiveFlowBaseline, naiveProxyBaseline } from './baseline.js';
import { cliPath, prepareRules, replay, repoRoot, type ReplayResult } from './engine.js';
import { CORPUS_FORMATS, replayArguments, writeCorpus, type CorpusFormat } from './formats.js';
import { generateCorpus } from './generator.js';
import { orientLoopbackCapture } from './loopback.js';
import { scoreSummary, scoreTable } from './report.js';
import { qualityBar, scoreIncidents, type Score } from './score.js';
import type { GroundTruth } from './types.js';

// `npm run eval`: generate a labelled corpus, replay it through `egressd replay` in each format,
// score the incidents against the ground truth next to a naive baseline, and print a table plus
// one JSON summary line (the last line of output).

const USAGE = `usage: node dist/test/eval/run.js [--seed N] [--hosts N] [--days N] [--formats zeek,vpc,squid,squid-combined]
  [--keep DIR] [--no-captures] [--cli PATH]`;

interface CaptureResult {
  file: string;
  expected: 'bittorrent' | 'none' | 'unlabelled';
  kinds: Record<string, number>;
  code: number;
  verdict: 'hit' | 'miss' | 'false_alarm' | 'clean' | 'n/a' | 'error';
}

function explainFalseIncidents(score: Score, truth: GroundTruth): Record<string, number> {
  const roleOf = new Map(truth.hosts.map((h) => [h.ip, h.role] as const));
  const carries = new Map<string, string[]>();
  for (const [activity, hosts] of Object.entries(truth.lookalikes)) {
    for (const h of hosts) carries.set(h, [...(carries.get(h) ?? []), activity]);
  }
  const out: Record<string, number> = {};
  for (const v of score.verdicts) {
    if (v.verdict !== 'false') continue;
    const host = v.hosts[0] ?? '?';
    const key = `${v.kind}@${roleOf.get(host) ?? 'unknown'}[${(carries.get(host) ?? []).filter((a) => a !== 'always_on_push' && a !== 'os_update').join('+') || 'browsing'}]`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * Captures to replay: the packet fixtures (expectations from their captures.json, else from the
 * file name) and the public nDPI captures sorted into BitTorrent and not.
 */
function captureFiles(root: string): { file: string; expected: CaptureResult['expected'] }[] {
  const out: { file: string; expected: CaptureResult['expected'] }[] = [];
  const isCapture = (f: string): boolean => /\.(pcap|pcapng)$/i.test(f);
  const own = join(root, 'src', 'decode', 'packet', 'testdata');
  if (existsSync(own)) {
    const manifestPath = join(own, 'captures.json');
    const manifest = new Map<string, boolean>();
    if (existsSync(manifestPath)) {
      for (const entry of JSON.parse(readFileSync(manifestPath, 'utf8')) as { file: string; negative?: boolean }[]) manifest.set(entry.file, entry.negative === true);
    }
    for (const f of readdirSync(own).filter(isCapture).sort()) {
      const negative = manifest.get(f);
      const expected =
        negative !== undefined
          ? negative
            ? 'none'
            : 'bittorrent'
          : /torrent|bt[-_.]|dht|utp|swarm|aria|transmission|qbit|peer/i.test(f)
            ? 'bittorrent'
            : /http|dns|tls|iperf|benign|negative|non[-_]|update|video|do[-_]/i.test(f)
              ? 'none'
              : 'unlabelled';
      out.push({ file: join(own, f), expected });
    }
  }
  const shared = join(root, '..', 'shared', 'fixtures', 'ndpi');
  for (const [dir, expected] of [
    ['bittorrent', 'bittorrent'],
    ['non_bittorrent', 'none'],
  ] as const) {
    const path = join(shared, dir);
    if (!existsSync(path)) continue;
    for (const f of readdirSync(path).filter(isCapture).sort()) out.push({ file: join(path, f), expected });
  }
  return out;
}

async function runCaptures(work: string, root: string, cli: string): Promise<CaptureResult[]> {
  // Real captures use their own addresses: the default internal ranges and the shipped detection rules.
  const rulesDir = join(work, 'capture-rules');
  mkdirSync(rulesDir, { recursive: true });
  const shipped = join(root, 'rules', 'detection.yaml');
  if (existsSync(shipped)) copyFileSync(shipped, join(rulesDir, 'detection.yaml'));
  const files = captureFiles(root).map((c, i) => {
    // Loopback captures get a direction first (see loopback.ts); others replay as they are.
    const oriented = orientLoopbackCapture(readFileSync(c.file));
    if (!oriented) return { ...c, input: c.file, oriented: false };
    const input = join(work, `oriented-${i}-${basename(c.file)}`);
    writeFileSync(input, oriented);
    return { ...c, input, oriented: true };
  });
  const runs = await inParallel(
    files.map(({ input }, i) => () =>
      replay({
        files: [input],
        format: 'pcap',
        rulesDir,
        stateDir: join(work, `capture-state-${i}`),
        outFile: join(work, `capture-${i}.jsonl`),
        cli,
        timeoutMs: 120_000,
      }),
    ),
    REPLAY_CONCURRENCY,
  );
  const results = files.map(({ file, expected, oriented }, i): CaptureResult => {
    const r = runs[i]!;
    const kinds: Record<string, number> = {};
    for (const inc of r.incidents) kinds[inc.kind] = (kinds[inc.kind] ?? 0) + 1;
    const flagged = (kinds.bittorrent ?? 0) + (kinds.swarm ?? 0) > 0;
    const any = r.incidents.length > 0;
    const verdict: CaptureResult['verdict'] =
      r.code !== 0 ? 'error' : expected === 'bittorrent' ? (flagged ? 'hit' : 'miss') : expected === 'none' ? (any ? 'false_alarm' : 'clean') : 'n/a';
    const name = file.slice(file.lastIndexOf('/', file.lastIndexOf('/') - 1) + 1);
    return { file: oriented ? `${name} (oriented)` : name, expected, kinds, code: r.code, verdict };
  });
  return results;
}

/** Run `tasks` with at most `limit` at a time; results in task order. */
async function inParallel<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** Two replays at a time: the evaluation is sized for a 2-core machine. */
const REPLAY_CONCURRENCY = 2;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '7' },
      hosts: { type: 'string', default: '300' },
      days: { type: 'string', default: '3' },
      formats: { type: 'string', default: CORPUS_FORMATS.join(',') },
      keep: { type: 'string' },
      'no-captures': { type: 'boolean', default: false },
      cli: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const seed = Number(values.seed);
  const hosts = Number(values.hosts);
  const days = Number(values.days);
  const formats = values.formats.split(',').map((f) => f.trim()) as CorpusFormat[];
  if (!Number.isInteger(seed) || !(hosts >= 20) || !(days >= 1) || formats.some((f) => !CORPUS_FORMATS.includes(f))) {
    console.error(USAGE);
    return 2;
  }
  const root = repoRoot();
  const cli = values.cli ?? cliPath(root);
  if (!existsSync(cli)) {
    console.error(`egressd CLI not built at ${cli}: run \`npm run build\` first`);
    return 2;
  }
  const work = values.keep ?? mkdtempSync(join(tmpdir(), 'egressd-eval-'));
  mkdirSync(work, { recursive: true });

  const genStarted = Date.now();
  const corpus = generateCorpus({ seed, hosts, days });
  const truth = corpus.truth;
  const start = Date.parse(truth.start);
  writeFileSync(join(work, 'truth.json'), JSON.stringify(truth, null, 2));
  const rules = prepareRules(join(work, 'rules'), root);
  console.log(
    `egressd eval: seed ${seed}, ${hosts} hosts × ${days} days from ${truth.start}; ${corpus.conns.length} connections, ` +
      `${corpus.requests.length} proxy requests; ${truth.labels.length} labelled hosts, ${truth.swarms.length} swarms; ` +
      `detection rules: ${rules.detection}; generated in ${((Date.now() - genStarted) / 1000).toFixed(1)} s; files in ${work}`,
  );

  const summary: Record<string, unknown> = { eval: 'egressd', seed, hosts, days, detection_rules: rules.detection, formats: {} };
  const jobs = formats.map((format) => {
    const file = join(work, `corpus.${format === 'zeek' ? 'conn.log' : format === 'vpc' ? 'vpc.log' : `${format}.access.log`}`);
    const records = writeCorpus(format, file, corpus, { start, end: Date.parse(truth.end) }, seed);
    const how = replayArguments(format);
    return {
      format,
      records,
      run: (): Promise<ReplayResult> =>
        replay({
          files: [file],
          format: how.format,
          extraArgs: how.extra,
          rulesDir: rules.dir,
          stateDir: join(work, `state-${format}`),
          outFile: join(work, `incidents-${format}.jsonl`),
          cli,
        }),
    };
  });
  const results = await inParallel(jobs.map((j) => j.run), REPLAY_CONCURRENCY);
  let failures = 0;
  jobs.forEach(({ format, records }, i) => {
    const r = results[i]!;
    const engine = scoreIncidents(r.incidents, truth);
    const baseline = format.startsWith('squid') ? naiveProxyBaseline(corpus.requests, start) : naiveFlowBaseline(corpus.conns, start);
    const naive = scoreIncidents(baseline, truth);
    const bar = qualityBar(engine);
    console.log('');
    console.log(
      scoreTable(
        `== ${format}: ${records} lines, replay ${r.seconds.toFixed(1)} s wall` +
          (r.cpuSeconds !== undefined ? `, ${r.cpuSeconds.toFixed(1)} s CPU (${Math.round(records / Math.max(r.cpuSeconds, 0.001))} lines per CPU-second), peak RSS ${r.peakRssMiB} MiB` : '') +
          `, exit ${r.code}`,
        [
          { name: 'egressd', score: engine, bar },
          { name: 'naive', score: naive },
        ],
      ),
    );
    const falseCauses = explainFalseIncidents(engine, truth);
    if (Object.keys(falseCauses).length) console.log(`  egressd false incidents by host profile: ${JSON.stringify(falseCauses)}`);
    if (r.code !== 0) {
      failures++;
      console.log(`  replay failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
    }
    if (r.unparsed > 0) console.log(`  ${r.unparsed} output lines were not incidents`);
    (summary.formats as Record<string, unknown>)[format] = {
      lines: records,
      replay_seconds: Math.round(r.seconds * 10) / 10,
      replay_cpu_seconds: r.cpuSeconds === undefined ? null : Math.round(r.cpuSeconds * 10) / 10,
      replay_peak_rss_mib: r.peakRssMiB ?? null,
      replay_exit: r.code,
      egressd: scoreSummary(engine),
      quality_bar: bar,
      naive: scoreSummary(naive),
      false_incident_profiles: falseCauses,
    };
  });

  if (!values['no-captures']) {
    const captures = await runCaptures(work, root, cli);
    if (captures.length) {
      console.log('');
      console.log('== real captures (replay --format pcap, default internal ranges; loopback captures oriented: opener = 10.99.0.1)');
      for (const c of captures) console.log(`  ${c.file.padEnd(58)} expected ${c.expected.padEnd(10)} ${c.verdict.padEnd(11)} ${JSON.stringify(c.kinds)}`);
      const positives = captures.filter((c) => c.expected === 'bittorrent');
      const negatives = captures.filter((c) => c.expected === 'none');
      summary.captures = {
        bittorrent_detected: positives.filter((c) => c.verdict === 'hit').length,
        bittorrent_total: positives.length,
        negatives_clean: negatives.filter((c) => c.verdict === 'clean').length,
        negatives_total: negatives.length,
        errors: captures.filter((c) => c.verdict === 'error').map((c) => c.file),
        files: captures,
      };
    }
  }

  if (!values.keep) rmSync(work, { recursive: true, force: true });
  console.log('');
  console.log(JSON.stringify(summary));
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
