import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ethernetFrame, ipv4Packet, pcapFile, udpDatagram } from '../../../src/decode/packet/craft.js';
import { writeZeekCorpus } from '../../support/corpus.js';
import { CLI, REPO_ROOT, freePort, runCli, stopProcess, tempDir, waitFor } from '../../support/env.js';

const RULES = join(REPO_ROOT, 'rules');
const dir = tempDir('egressd-cli-');
afterAll(() => dir.remove());

function journalEntries(stateDir: string): Record<string, unknown>[] {
  const journalDir = join(stateDir, 'journal');
  if (!existsSync(journalDir)) return [];
  return readdirSync(journalDir)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .flatMap((f) => readFileSync(join(journalDir, f), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function auditActions(stateDir: string): string[] {
  return journalEntries(stateDir)
    .filter((e) => e.type === 'audit')
    .map((e) => (e.event as { action: string }).action);
}

describe('egressd CLI', () => {
  beforeAll(() => {
    expect(existsSync(CLI), `${CLI} missing: run npm run build`).toBe(true);
  });

  it('prints its version', () => {
    const r = runCli(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`egressd ${JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version} (Node.js ${process.version})\n`);
  });

  it('exits 2 with the path, value and expectation for a bad config', () => {
    const path = join(dir.path, 'bad.yaml');
    writeFileSync(path, 'sources:\n  - type: netflow\n    listen: ["nowhere"]\n');
    const r = runCli(['check', '--config', path, '--rules', RULES]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sources[0].listen[0]');
    expect(r.stderr).toContain('"nowhere"');
    expect(r.stderr).toContain('expected host:port');
  });

  it('exits 2 for bad rules and for usage errors', () => {
    const rules = join(dir.path, 'badrules');
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, 'networks.yaml'), 'internal: [300.1.1.1/8]\n');
    const bad = runCli(['check', '--rules', rules, '--state-dir', dir.path]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/networks\.yaml: internal\[0\]/);
    expect(runCli(['replay']).code).toBe(2);
    expect(runCli(['no-such-command']).code).toBe(2);
    expect(runCli(['replay', '--format', 'gopher', 'x']).code).toBe(2);
  });

  it('checks the shipped example config inertly', () => {
    const r = runCli(['check', '--config', join(REPO_ROOT, 'deploy', 'egressd.yaml'), '--rules', RULES, '--state-dir', join(dir.path, 'never-created')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('config ok');
    // Inert: check creates no state.
    expect(existsSync(join(dir.path, 'never-created'))).toBe(false);
  });

  it('refuses input it cannot identify, naming --format', () => {
    const path = join(dir.path, 'mystery.txt');
    writeFileSync(path, 'hello world\n');
    const r = runCli(['replay', '--rules', RULES, path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--format');
  });

  it('replays a Zeek log, emits records, and leaves a journal that verifies', async () => {
    const log = join(dir.path, 'conn.log');
    await writeZeekCorpus(log, { lines: 500, hosts: 5 });
    const stateDir = join(dir.path, 'replay-state');
    const r = runCli(['replay', '--rules', RULES, '--state-dir', stateDir, '--emit', 'records', log]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host?: string; bytesIn: number; source: { type: string } });
    expect(records).toHaveLength(500);
    expect(records[0]!.source.type).toBe('zeek');
    expect(records[0]!.host).toMatch(/^10\.20\./);
    // conn.log resp_bytes are what the internal host received.
    expect(records[0]!.bytesIn).toBe(20000);
    const verify = runCli(['verify', '--state-dir', stateDir]);
    expect(verify.stdout).toContain('journal ok');
    expect(verify.code).toBe(0);
    expect(auditActions(stateDir)).toEqual(expect.arrayContaining(['start', 'rules_loaded', 'stop']));
  });

  it('replays without --state-dir in a state directory of its own that it removes, unless the config file or EGRESSD_STATE_DIR names one', async () => {
    const log = join(dir.path, 'own-state.log');
    await writeZeekCorpus(log, { lines: 50, hosts: 2 });
    const tmp = join(dir.path, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const replayDirs = () => readdirSync(tmp).filter((d) => d.startsWith('egressd-replay-'));
    const journalled = (stateDir: string) => auditActions(stateDir).includes('stop');
    const env = { TMPDIR: tmp, EGRESSD_STATE_DIR: '' };

    // Its own directory, journal and all, is there while it runs (standard input held open) and
    // gone once it ended, here by a signal.
    const child = spawn(process.execPath, [CLI, 'replay', '--rules', RULES, '--format', 'zeek', '-'], { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
    child.stdin.write(readFileSync(log));
    await waitFor(() => replayDirs().some((d) => existsSync(join(tmp, d, 'journal'))), 30_000, 'the replay state directory');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    child.stdin.destroy();
    expect(replayDirs()).toEqual([]);

    expect(runCli(['replay', '--rules', RULES, log], { env }).code).toBe(0);
    expect(replayDirs()).toEqual([]);

    const fromFile = join(dir.path, 'state-from-file');
    const config = join(dir.path, 'state-dir.yaml');
    writeFileSync(config, `state_dir: ${fromFile}\n`);
    expect(runCli(['replay', '--config', config, '--rules', RULES, log], { env }).code).toBe(0);
    expect(journalled(fromFile)).toBe(true);

    const fromEnv = join(dir.path, 'state-from-env');
    expect(runCli(['replay', '--rules', RULES, log], { env: { ...env, EGRESSD_STATE_DIR: fromEnv } }).code).toBe(0);
    expect(journalled(fromEnv)).toBe(true);
    expect(replayDirs()).toEqual([]);

    // A bad config is reported before any state directory is made.
    const bad = join(dir.path, 'bad-no-state.yaml');
    writeFileSync(bad, 'pipeline:\n  shutdown_grace: soon\n');
    const r = runCli(['replay', '--config', bad, '--rules', RULES, log], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pipeline.shutdown_grace');
    expect(replayDirs()).toEqual([]);
  });

  it('exits as soon as a replay is done, with its records and every line of its log', () => {
    // Framing breaks after three packets: a warning in the log.
    const frames = [0, 1, 2].map((i) => ({ tsMs: Date.UTC(2026, 5, 11, 9) + i, data: ethernetFrame(ipv4Packet('10.0.0.7', '203.0.113.5', 17, udpDatagram(40000 + i, 53, Buffer.alloc(40)))) }));
    const header = Buffer.alloc(16);
    header.writeUInt32LE(0x7fffffff, 8);
    const path = join(dir.path, 'broken.pcap');
    writeFileSync(path, Buffer.concat([pcapFile(1, frames), header, Buffer.alloc(64)]));
    const r = spawnSync(process.execPath, [CLI, 'replay', '--rules', RULES, '--log-level', 'info', '--emit', 'records', path], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { srcPort: number }).srcPort)).toEqual([40000, 40001, 40002]);
    expect(r.stderr).toContain('capture framing lost');
    // The last line, logged just before the exit.
    expect(r.stderr.trim().split('\n').at(-1)).toContain('egressd stopped');
  });

  it('SIGTERM during a large replay flushes and exits 0 with the journal intact', async () => {
    const log = join(dir.path, 'large.log');
    await writeZeekCorpus(log, { lines: 3_000_000, hosts: 200 });
    const stateDir = join(dir.path, 'sigterm-state');
    const child = spawn(process.execPath, [CLI, 'replay', '--rules', RULES, '--state-dir', stateDir, '--out', join(dir.path, 'out.jsonl'), log], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Wait until the replay is under way (the journal's start event is written).
    await waitFor(() => auditActions(stateDir).includes('start'), 30_000, 'replay start');
    await new Promise((r) => setTimeout(r, 300));
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).toContain('replay interrupted');
    expect(code).toBe(0);
    const actions = auditActions(stateDir);
    expect(actions.at(-1)).toBe('stop');
    const verify = runCli(['verify', '--state-dir', stateDir]);
    expect(verify.code).toBe(0);
  });

  it('runs as a daemon: serves metrics and health, stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const stateDir = join(dir.path, 'run-state');
    const log = join(dir.path, 'tailed.log');
    await writeZeekCorpus(log, { lines: 200, hosts: 5 });
    const config = join(dir.path, 'run.yaml');
    writeFileSync(
      config,
      [`state_dir: ${stateDir}`, `rules_dir: ${RULES}`, 'telemetry:', `  listen: 127.0.0.1:${port}`, 'sources:', '  - type: file', '    format: zeek', `    paths: [${log}]`, '    poll_interval: 200ms'].join('\n'),
    );
    const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000, `readyz (${output})`);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await waitFor(async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /egressd_pipeline_records_total\{outcome="egress"\} 200\b/.test(text);
      }, 30_000, 'all tailed records counted');
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).not.toMatch(/10\.20\.\d+\.\d+/);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (c) => resolve(c))));
    expect(code, output).toBe(0);
    expect(auditActions(stateDir)).toEqual(expect.arrayContaining(['start', 'checkpoint', 'stop']));
    expect(runCli(['verify', '--state-dir', stateDir]).code).toBe(0);
    await stopProcess(child);
  });

  it('regression: a reader that goes away (| head) ends the replay quietly with exit 0; a full disk fails it with exit 1', async () => {
    const log = join(dir.path, 'piped.log');
    await writeZeekCorpus(log, { lines: 200_000, hosts: 50 });
    const stateDir = join(dir.path, 'piped-state');
    const child = spawn(process.execPath, [CLI, 'replay', '--rules', RULES, '--state-dir', stateDir, '--emit', 'records', log], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read the first chunk, then close the pipe as `head` does.
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (c) => resolve(c))));
    expect(JSON.parse(first.split('\n')[0]!)).toHaveProperty('source');
    expect(stderr).not.toContain('EPIPE');
    expect(code, stderr).toBe(0);
    expect(auditActions(stateDir).at(-1)).toBe('stop');

    const full = runCli(['replay', '--rules', RULES, '--state-dir', join(dir.path, 'full-state'), '--emit', 'records', '--out', '/dev/full', log]);
    expect(full.code).toBe(1);
    expect(full.stderr).toContain('writing /dev/full');
  });

  it('stops loudly with a non-zero exit when the journal cannot be written', () => {
    const notADir = join(dir.path, 'file-not-dir');
    writeFileSync(notADir, 'x');
    const r = runCli(['replay', '--rules', RULES, '--state-dir', notADir, join(REPO_ROOT, 'rules', 'networks.yaml'), '--format', 'zeek']);
    expect(r.code).toBe(1);
    expect(r.stderr.length).toBeGreaterThan(0);
  });
});

describe('egressd verify', () => {
  it('names the first broken entry after tampering and exits 1', async () => {
    const log = join(dir.path, 'verify.log');
    await writeZeekCorpus(log, { lines: 50, hosts: 2 });
    const stateDir = join(dir.path, 'verify-state');
    expect(runCli(['replay', '--rules', RULES, '--state-dir', stateDir, log]).code).toBe(0);
    expect(runCli(['replay', '--rules', RULES, '--state-dir', stateDir, log]).code).toBe(0);
    const journalDir = join(stateDir, 'journal');
    const file = readdirSync(journalDir).filter((f) => f.endsWith('.ndjson')).sort()[0]!;
    const lines = readFileSync(join(journalDir, file), 'utf8').split('\n');
    expect(lines.length).toBeGreaterThan(4);
    // Rewrite the third entry's action: its own hash no longer matches.
    lines[2] = lines[2]!.replace(/"action":"[a-z_]+"/, '"action":"forged"');
    writeFileSync(join(journalDir, file), lines.join('\n'));
    const r = runCli(['verify', '--state-dir', stateDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${file} line 3`);
    expect(r.stdout).toMatch(/BROKEN/);
  });
});

describe('egressd run --pcap-stdin', () => {
  it('replays a capture from standard input, piped or redirected from a file, as it replays the file', () => {
    const capture = join(REPO_ROOT, 'src', 'decode', 'packet', 'testdata', 'swarm-http-tracker.pcap');
    const records = (stdout: string) => stdout.replaceAll('"id":"stdin"', '"id":"swarm-http-tracker.pcap"');
    const fromFile = runCli(['replay', '--rules', RULES, '--emit', 'records', capture]);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout.split('\n').length).toBeGreaterThan(5);
    const piped = runCli(['replay', '--rules', RULES, '--emit', 'records', '--format', 'pcap', '-'], { input: readFileSync(capture) });
    expect(piped.code).toBe(0);
    expect(records(piped.stdout)).toBe(fromFile.stdout);
    const fd = openSync(capture, 'r');
    const redirected = spawnSync(process.execPath, [CLI, 'replay', '--rules', RULES, '--emit', 'records', '--format', 'pcap', '-'], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
    closeSync(fd);
    expect(redirected.status).toBe(0);
    expect(records(redirected.stdout)).toBe(fromFile.stdout);
  });

  it('reads a capture piped on standard input (tcpdump -w - | egressd run --pcap-stdin)', async () => {
    const capture = join(REPO_ROOT, 'src', 'decode', 'packet', 'testdata', 'swarm-http-tracker.pcap');
    const port = await freePort();
    const stateDir = join(dir.path, 'stdin-state');
    const config = join(dir.path, 'stdin.yaml');
    writeFileSync(config, [`state_dir: ${stateDir}`, `rules_dir: ${RULES}`, 'telemetry:', `  listen: 127.0.0.1:${port}`].join('\n'));
    const child = spawn(process.execPath, [CLI, 'run', '--pcap-stdin', '--config', config], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.stdin.end(readFileSync(capture));
    const flows = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return [...text.matchAll(/^egressd_pipeline_records_total\{outcome="\w+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    try {
      // Flows end when the input ends (or go idle): every one of them reaches the pipeline.
      await waitFor(async () => (await flows()) > 0, 60_000, `pcap flows from stdin (${output})`);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (c) => resolve(c))));
    expect(code, output).toBe(0);
  });

  it('regression: stops on SIGTERM before any record arrived (stop hung on a stranded audit event)', async () => {
    const port = await freePort();
    const stateDir = join(dir.path, 'quiet-state');
    const config = join(dir.path, 'quiet.yaml');
    const flowPort = await freePort();
    writeFileSync(config, [`state_dir: ${stateDir}`, `rules_dir: ${RULES}`, 'telemetry:', `  listen: 127.0.0.1:${port}`, 'sources:', '  - type: netflow', `    listen: ["127.0.0.1:${flowPort}"]`].join('\n'));
    const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: 'ignore' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000, 'ready');
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(-1);
      }, 15_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    expect(auditActions(stateDir)).toEqual(['start', 'rules_loaded', 'stop']);
  });
});

describe('egressd run: SIGHUP', () => {
  it('reloads approved sources, journals them, and keeps the old rules when the new ones are bad', async () => {
    const rules = join(dir.path, 'hup-rules');
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, 'approved-sources.yaml'), 'sources: []\n');
    const port = await freePort();
    const stateDir = join(dir.path, 'hup-state');
    const config = join(dir.path, 'hup.yaml');
    writeFileSync(config, [`state_dir: ${stateDir}`, `rules_dir: ${rules}`, 'telemetry:', `  listen: 127.0.0.1:${port}`].join('\n'));
    const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: 'ignore' });
    const reloads = () =>
      journalEntries(stateDir)
        .filter((e) => e.type === 'audit' && (e.event as { action: string }).action === 'rules_reloaded')
        .map((e) => (e.event as { approved_sources: { name: string }[] }).approved_sources.map((s) => s.name));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000, 'ready');
      writeFileSync(join(rules, 'approved-sources.yaml'), 'sources:\n  - name: mirror\n    owner: it\n    match: { domains: [example.org] }\n');
      child.kill('SIGHUP');
      await waitFor(() => reloads().length === 1, 15_000, 'rules_reloaded entry');
      expect(reloads()[0]).toEqual(['mirror']);
      writeFileSync(join(rules, 'approved-sources.yaml'), 'sources: [ {name: broken\n');
      child.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 1500));
      expect(reloads()).toHaveLength(1);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', (c) => resolve(c))));
    expect(code).toBe(0);
  });
});
