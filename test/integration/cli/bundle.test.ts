import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, COMMAND, REPO_ROOT, TSC_CLI, freePort, runCli, sharedFixture, startProcess, stopProcess, tempDir, waitFor } from '../../support/env.js';

// The installed program is the one-file bundle run by its launcher with a V8 code cache
// (deploy/build-cli.mjs, src/cli/launch.ts). The cache only saves time: with it, without it or
// with a broken one the output is the same, and so is the output of the module-by-module build.

const DEMO = join(REPO_ROOT, 'deploy', 'demo');
const BIN = join(CLI, '..');
const dir = tempDir('egressd-bundle-');
afterAll(() => dir.remove());

/** A copy of the installed layout (package.json and dist/bin), so the cache can be changed. */
function installedCopy(name: string): { cli: string; cache: string; briefCache: string } {
  const root = join(dir.path, name);
  mkdirSync(join(root, 'dist'), { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
  cpSync(BIN, join(root, 'dist', 'bin'), { recursive: true });
  const bin = join(root, 'dist', 'bin');
  // The caches of the whole CLI's bundle and of the brief one (commands that load no config).
  return { cli: join(bin, 'egressd.cjs'), cache: join(bin, 'cli.cjs.cache'), briefCache: join(bin, 'cli-brief.cjs.cache') };
}

let stateDirs = 0;
function demoReplay(cli: string, emit: 'records' | 'incidents') {
  const stateDir = join(dir.path, `state-${stateDirs++}`);
  return runCli(['replay', '--rules', join(DEMO, 'rules'), '--squid-logformat', 'combined', '--emit', emit, '--state-dir', stateDir, join(DEMO, 'access.log')], { cli });
}

/** Identity of the cache file: the launcher replaces a cache by renaming a new file over it. */
function fileIdentity(path: string): string {
  const s = statSync(path);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

let probes = 0;
/** Run the CLI with `probe` (CommonJS source; OUT names its report file) loaded first; its report. */
function probed<T>(probe: string, args: string[], options: { cli?: string; env?: NodeJS.ProcessEnv } = {}): { report: T; stdout: string } {
  const n = probes++;
  const out = join(dir.path, `probe-${n}.json`);
  const file = join(dir.path, `probe-${n}.cjs`);
  writeFileSync(file, `const OUT = ${JSON.stringify(out)};\n${probe}`);
  const r = runCli(args, { cli: options.cli, env: { ...options.env, NODE_OPTIONS: `--require ${file}` } });
  expect(r.code, r.stderr).toBe(0);
  return { report: JSON.parse(readFileSync(out, 'utf8')) as T, stdout: r.stdout };
}

// Whether zod was evaluated and which Node built-in modules were loaded, as the process exits.
const LOAD_PROBE = `process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
  require('node:fs').writeFileSync(OUT, JSON.stringify({ zod: globalThis.__zod_globalConfig !== undefined, builtins }));
});
`;
type LoadReport = { zod: boolean; builtins: string[] };

describe('the bundled CLI (dist/bin)', () => {
  let expected: { records: string; incidents: string };

  beforeAll(() => {
    expect(existsSync(CLI), `${CLI} missing: run npm run build`).toBe(true);
    const records = demoReplay(TSC_CLI, 'records');
    const incidents = demoReplay(TSC_CLI, 'incidents');
    expect(records.code, records.stderr).toBe(0);
    expect(incidents.code, incidents.stderr).toBe(0);
    expect(incidents.stdout.trim()).not.toBe('');
    expected = { records: records.stdout, incidents: incidents.stdout };
  });

  it('uses the code cache it was built with, unchanged, and prints what the module-by-module build prints', () => {
    const { cli, cache, briefCache } = installedCopy('as-built');
    const before = [fileIdentity(cache), fileIdentity(briefCache)];
    expect(demoReplay(cli, 'records').stdout).toBe(expected.records);
    expect(demoReplay(cli, 'incidents').stdout).toBe(expected.incidents);
    expect(runCli(['version'], { cli }).stdout).toBe(runCli(['version'], { cli: TSC_CLI }).stdout);
    // A rejected cache would have been rewritten as the process exited.
    expect([fileIdentity(cache), fileIdentity(briefCache)]).toEqual(before);
  });

  it('runs commands that load no config from the brief bundle, writing its cache when missing and leaving the other alone', () => {
    const { cli, cache, briefCache } = installedCopy('no-brief-cache');
    rmSync(briefCache);
    const pipelineCache = fileIdentity(cache);
    const version = runCli(['version'], { cli });
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^egressd \d+\.\d+\.\d+ \(Node\.js v\d+\.\d+\.\d+\)\n$/);
    const written = fileIdentity(briefCache);
    expect(statSync(briefCache).size).toBeLessThan(statSync(cache).size);
    const help = runCli(['--help'], { cli });
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(runCli(['--help'], { cli: TSC_CLI }).stdout);
    const unknown = runCli(['no-such-command'], { cli });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(runCli(['no-such-command'], { cli: TSC_CLI }).stderr);
    expect([fileIdentity(briefCache), fileIdentity(cache)]).toEqual([written, pipelineCache]);
  });

  it('runs the same without a code cache, then writes one that the next run uses', () => {
    const { cli, cache } = installedCopy('no-cache');
    rmSync(cache);
    expect(demoReplay(cli, 'incidents').stdout).toBe(expected.incidents);
    expect(statSync(cache).size).toBeGreaterThan(0);
    const written = fileIdentity(cache);
    expect(demoReplay(cli, 'records').stdout).toBe(expected.records);
    expect(fileIdentity(cache)).toBe(written);
  });

  it('runs the same with a corrupt or truncated code cache, and replaces it', () => {
    for (const [name, broken] of [
      ['corrupt', Buffer.alloc(64 * 1024, 0x5a)],
      ['truncated', readFileSync(join(BIN, 'cli.cjs.cache')).subarray(0, 4096)],
    ] as const) {
      const { cli, cache } = installedCopy(name);
      writeFileSync(cache, broken);
      expect(demoReplay(cli, 'incidents').stdout, name).toBe(expected.incidents);
      expect(readFileSync(cache).equals(broken), name).toBe(false);
      const rewritten = fileIdentity(cache);
      expect(demoReplay(cli, 'records').stdout, name).toBe(expected.records);
      expect(fileIdentity(cache), name).toBe(rewritten);
    }
  });

  it('gives V8 no cache made for another build of the bundle, even one of the same length', () => {
    // V8 checks a cache against the source's length only: it would run the old build's bytecode.
    const { cli, briefCache } = installedCopy('other-build');
    const bundlePath = join(cli, '..', 'cli-brief.cjs');
    const built = readFileSync(bundlePath, 'latin1');
    expect(built.split('`egressd ${').length).toBe(2);
    const rebuilt = built.replace(/^\/\/ egressd-bundle [0-9a-f]{16}\n/, '// egressd-bundle 0123456789abcdef\n').replace('`egressd ${', '`EGRESSD ${');
    expect(rebuilt.length).toBe(built.length);
    writeFileSync(bundlePath, rebuilt, 'latin1');
    const stale = fileIdentity(briefCache);
    expect(runCli(['version'], { cli }).stdout).toMatch(/^EGRESSD \d/);
    expect(fileIdentity(briefCache)).not.toBe(stale);
    expect(runCli(['version'], { cli }).stdout).toMatch(/^EGRESSD \d/);
  });

  it('runs the same when the cache cannot be written', () => {
    if (process.getuid?.() === 0) return; // root writes anyway
    const { cli, cache } = installedCopy('read-only');
    rmSync(cache);
    chmodSync(join(cli, '..'), 0o555);
    try {
      expect(demoReplay(cli, 'incidents').stdout).toBe(expected.incidents);
      expect(existsSync(cache)).toBe(false);
    } finally {
      chmodSync(join(cli, '..'), 0o755);
    }
  });

  it('evaluates no config schema, logger or metrics library for `version`', () => {
    const version = probed<LoadReport>(LOAD_PROBE, ['version']).report;
    expect(version.zod).toBe(false);
    // prom-client's pushgateway loads http; pino's transports load worker_threads.
    expect(version.builtins).not.toContain('http');
    expect(version.builtins).not.toContain('worker_threads');
    const replay = probed<LoadReport>(LOAD_PROBE, ['replay', '--rules', join(DEMO, 'rules'), '--squid-logformat', 'combined', '--state-dir', join(dir.path, 'probed-state'), join(DEMO, 'access.log')]).report;
    expect(replay.zod).toBe(true);
    // Replays run on one thread by default and load no worker_threads; the probe sees it where used.
    expect(replay.builtins).not.toContain('worker_threads');
    const capture = join(REPO_ROOT, 'src', 'decode', 'packet', 'testdata', 'swarm-mse.pcap');
    const onWorker = probed<LoadReport>(LOAD_PROBE, ['replay', '--state-dir', join(dir.path, 'probed-worker-state'), capture], { env: { EGRESSD_PCAP_WORKER: '1' } }).report;
    expect(onWorker.builtins).toContain('worker_threads');
  });
});

// The file of every worker thread started.
const WORKER_PROBE = `const threads = require('node:worker_threads');
const Original = threads.Worker;
const started = [];
threads.Worker = class extends Original {
  constructor(file, options) {
    started.push(String(file));
    super(file, options);
  }
};
require('node:module').syncBuiltinESMExports();
if (threads.isMainThread) process.on('exit', () => require('node:fs').writeFileSync(OUT, JSON.stringify(started)));
`;

describe('capture replay on a worker thread (EGRESSD_PCAP_WORKER=1)', () => {
  for (const [name, cli, workerFile] of [
    ['the bundle', CLI, join(CLI, '..', 'pcap-worker.cjs')],
    ['the module-by-module build', TSC_CLI, join(TSC_CLI, '..', '..', 'sources', 'pcap', 'worker.js')],
  ] as const) {
    it(`starts its own worker from ${name} and prints what in-thread replay prints`, () => {
      const file = sharedFixture('ndpi/bittorrent/bittorrent.pcap');
      if (!file) return;
      const onWorker = probed<string[]>(WORKER_PROBE, ['replay', '--emit', 'records', file], { cli, env: { EGRESSD_PCAP_WORKER: '1' } });
      expect(onWorker.report).toEqual([pathToFileURL(workerFile).href]);
      const inThread = runCli(['replay', '--emit', 'records', file], { cli, env: { EGRESSD_PCAP_WORKER: '0' } });
      expect(inThread.code, inThread.stderr).toBe(0);
      expect(onWorker.stdout.trim()).not.toBe('');
      expect(onWorker.stdout).toBe(inThread.stdout);
    });
  }
});

// The order of worker starts and of reads of the CLI bundle by the launcher.
const EARLY_PROBE = `const threads = require('node:worker_threads');
const fs = require('node:fs');
const events = [];
const Original = threads.Worker;
threads.Worker = class extends Original {
  constructor(file, options) {
    events.push('worker ' + String(file).split('/').pop());
    super(file, options);
    this.on('exit', () => events.push('worker exit'));
  }
};
const readFileSync = fs.readFileSync;
fs.readFileSync = function (path, ...rest) {
  if (String(path).endsWith('cli.cjs')) events.push('read cli.cjs');
  return readFileSync.call(this, path, ...rest);
};
require('node:module').syncBuiltinESMExports();
if (threads.isMainThread) process.on('exit', () => readFileSync === fs.readFileSync || fs.writeFileSync(OUT, JSON.stringify(events)));
`;

describe('capture worker started by the launcher (egressd replay capture.pcap)', () => {
  it('starts before the CLI is loaded, and the CLI goes on with it: one worker, same output as in-thread', () => {
    const file = sharedFixture('ndpi/bittorrent/bittorrent.pcap');
    if (!file) return;
    const early = probed<string[]>(EARLY_PROBE, ['replay', '--emit', 'records', file], { env: { EGRESSD_PCAP_WORKER: '1' } });
    expect(early.report).toEqual(['worker pcap-worker.cjs', 'read cli.cjs', 'worker exit']);
    const inThread = runCli(['replay', '--emit', 'records', file], { env: { EGRESSD_PCAP_WORKER: '0' } });
    expect(early.stdout.trim()).not.toBe('');
    expect(early.stdout).toBe(inThread.stdout);
  });

  it('stops a worker the CLI does not use (a format named after the file), with the output of that format', () => {
    const file = sharedFixture('ndpi/bittorrent/bittorrent.pcap');
    if (!file) return;
    const misread = probed<string[]>(EARLY_PROBE, ['replay', '--emit', 'records', file, '-f', 'netflow'], { env: { EGRESSD_PCAP_WORKER: '1' } });
    expect(misread.report).toEqual(['worker pcap-worker.cjs', 'read cli.cjs', 'worker exit']);
    const inThread = runCli(['replay', '--emit', 'records', file, '-f', 'netflow'], { env: { EGRESSD_PCAP_WORKER: '0' } });
    expect(misread.stdout).toBe(inThread.stdout);
  });

  it('starts one by default on a host with two CPUs or more', () => {
    const file = sharedFixture('ndpi/bittorrent/bittorrent.pcap');
    if (!file) return;
    expect(process.env.EGRESSD_PCAP_WORKER).toBeUndefined();
    const byDefault = probed<string[]>(EARLY_PROBE, ['replay', '--emit', 'records', file]);
    expect(byDefault.report).toEqual(availableParallelism() >= 2 ? ['worker pcap-worker.cjs', 'read cli.cjs', 'worker exit'] : ['read cli.cjs']);
    expect(byDefault.stdout).toBe(runCli(['replay', '--emit', 'records', file], { env: { EGRESSD_PCAP_WORKER: '0' } }).stdout);
  });

  it('starts none for standard input, another format or when the worker is switched off', () => {
    const file = sharedFixture('ndpi/bittorrent/bittorrent.pcap');
    if (!file) return;
    expect(probed<string[]>(EARLY_PROBE, ['replay', '--emit', 'records', file], { env: { EGRESSD_PCAP_WORKER: '0' } }).report).toEqual(['read cli.cjs']);
    expect(probed<string[]>(EARLY_PROBE, ['replay', '-f', 'netflow', '--emit', 'records', file], { env: { EGRESSD_PCAP_WORKER: '1' } }).report).toEqual(['read cli.cjs']);
  });
});

// The bundle leaves parts of prom-client out (deploy/build-cli.mjs): the daemon's metrics must not change.
describe('the bundled daemon', () => {
  async function metricFamilies(cli: string): Promise<string[]> {
    const port = await freePort();
    const config = join(dir.path, `metrics-${port}.yaml`);
    writeFileSync(config, [`state_dir: ${join(dir.path, `metrics-state-${port}`)}`, `rules_dir: ${join(REPO_ROOT, 'rules')}`, 'telemetry:', `  listen: 127.0.0.1:${port}`].join('\n'));
    const daemon = startProcess(process.execPath, [cli, 'run', '--config', config]);
    try {
      let text = '';
      await waitFor(async () => {
        text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return text.includes('egressd_process_cpu_seconds_total');
      }, 30_000, `metrics (${daemon.output()})`);
      return text.split('\n').filter((l) => l.startsWith('# TYPE ')).sort();
    } finally {
      await stopProcess(daemon.child);
    }
  }

  it('serves the same metric families as the module-by-module build, process defaults included', async () => {
    const bundled = await metricFamilies(CLI);
    expect(bundled).toContain('# TYPE egressd_nodejs_eventloop_lag_seconds gauge');
    expect(bundled).toContain('# TYPE egressd_nodejs_heap_space_size_total_bytes gauge');
    expect(bundled).toEqual(await metricFamilies(TSC_CLI));
  });
});

// package.json `bin` is a shell script choosing the runtime (deploy/build-cli.mjs): the Node.js
// installed with egressd (package.json optionalDependencies) when there is one, else PATH's node.
describe('the egressd command (dist/bin/egressd)', () => {
  const bundledRuntime = join(REPO_ROOT, 'node_modules', '.bin', 'node');
  const shipsRuntime = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  it('runs the CLI on the runtime installed with egressd, also through a symbolic link and with another node first on PATH', () => {
    expect(existsSync(bundledRuntime), `${bundledRuntime} missing: npm install installs it on Linux x64 and arm64`).toBe(shipsRuntime);
    if (!shipsRuntime) return;
    const runtimeVersion = execFileSync(bundledRuntime, ['--version'], { encoding: 'utf8' }).trim();
    const fakeBin = join(dir.path, 'other-node');
    mkdirSync(fakeBin, { recursive: true });
    writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho "the node on PATH ran"\n', { mode: 0o755 });
    const link = join(dir.path, 'egressd-link');
    symlinkSync(COMMAND, link);
    for (const command of [COMMAND, link]) {
      const out = execFileSync(command, ['version'], { encoding: 'utf8', env: { ...process.env, PATH: `${fakeBin}:/usr/bin:/bin` } });
      expect(out, command).toBe(`egressd ${version} (Node.js ${runtimeVersion})\n`);
    }
  });

  it('starts a replay with --no-turbofan and its own code cache, other commands without, each cache used as built', () => {
    const { cli, cache, briefCache } = installedCopy('runtime-flags');
    const command = join(cli, '..', 'egressd');
    const replayCache = join(cli, '..', 'cli.cjs.no-turbofan.cache');
    const before = [cache, replayCache, briefCache].map(fileIdentity);
    const probe = join(dir.path, 'exec-argv.cjs');
    const report = join(dir.path, 'exec-argv.json');
    writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(process.execArgv)));\n`);
    // The copy has no runtime beside it: the one installed here, first on PATH, runs it.
    const env = { ...process.env, PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`, NODE_OPTIONS: `--require ${probe}` };
    const run = (args: string[]) => {
      const stdout = execFileSync(command, args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
      return { stdout, execArgv: JSON.parse(readFileSync(report, 'utf8')) as string[] };
    };
    const stateDir = join(dir.path, 'runtime-flags-state');
    const replay = run(['replay', '--rules', join(DEMO, 'rules'), '--squid-logformat', 'combined', '--emit', 'incidents', '--state-dir', stateDir, join(DEMO, 'access.log')]);
    expect(replay.execArgv).toEqual(['--no-turbofan']);
    expect(replay.stdout).toBe(demoReplay(TSC_CLI, 'incidents').stdout);
    expect(run(['check', '--rules', join(REPO_ROOT, 'rules')]).execArgv).toEqual([]);
    expect(run(['version']).execArgv).toEqual([]);
    // A cache made under other V8 flags would have been rejected and rewritten at exit.
    expect([cache, replayCache, briefCache].map(fileIdentity)).toEqual(before);
  });

  it('runs the CLI on the node found on PATH where no runtime was installed with it', () => {
    const { cli } = installedCopy('no-runtime');
    const command = join(cli, '..', 'egressd');
    const fakeBin = join(dir.path, 'path-node');
    mkdirSync(fakeBin, { recursive: true });
    writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho "node on PATH: $*"\n', { mode: 0o755 });
    const env = { ...process.env, PATH: `${fakeBin}:/usr/bin:/bin` };
    expect(execFileSync(command, ['replay', 'a b.pcap'], { encoding: 'utf8', env })).toBe(`node on PATH: --no-turbofan ${cli} replay a b.pcap\n`);
    expect(execFileSync(command, ['--rules', 'r s', 'check'], { encoding: 'utf8', env })).toBe(`node on PATH: ${cli} --rules r s check\n`);
  });
});
