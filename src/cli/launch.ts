#!/usr/bin/env node
// The `egressd` program as installed (dist/bin/egressd.cjs, built by deploy/build-cli.mjs): it runs
// a one-file bundle of the CLI beside it with V8's code cache for that bundle, so that a start
// neither resolves hundreds of module files nor compiles the bundle again. A code cache that is missing or
// that V8 rejects (another Node version, other V8 flags) costs only speed: the bundle is compiled as
// usual and, when the directory is writable, a fresh cache is written as the process exits.
import { accessSync, constants, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import type { SpawnedPcapWorker } from '../sources/pcap/spawn.js';

/**
 * Two bundles of the CLI (deploy/build-cli.mjs): the whole of it, and a brief one without what
 * commands import as they run, for the commands that load no config (`version`, `--help`, usage
 * errors). V8 loads a code cache whole: the whole CLI's takes three times as long to load.
 */
const BUNDLE_FILE = 'cli.cjs';
const BRIEF_BUNDLE_FILE = 'cli-brief.cjs';
/** Commander runs a command only when its name is on the command line (egressd has no default command). */
const CONFIG_COMMANDS = new Set(['run', 'replay', 'check', 'verify', 'schema']);

/**
 * The bundle's first line is `// egressd-bundle <id>`, the id a hash of the rest; then comes a
 * function expression taking what a CommonJS module gets (deploy/build-cli.mjs).
 */
const BUNDLE_ID = /^\/\/ egressd-bundle ([0-9a-f]{16})\n/;

type ModuleBody = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

/**
 * The cache file starts with the id of the bundle it was made for: V8 checks a cache against the
 * length of the source only, so a cache of another build of the bundle is never given to it.
 */
function readCodeCache(path: string, bundleId: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return undefined;
  }
  return data.subarray(0, bundleId.length).toString('latin1') === bundleId ? data.subarray(bundleId.length) : undefined;
}

/** Best effort: a read-only install keeps working, only without the cache. */
function writeCodeCache(script: Script, path: string, bundleId: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    accessSync(dirname(path), constants.W_OK);
    writeFileSync(temp, Buffer.concat([Buffer.from(bundleId, 'latin1'), script.createCachedData()]));
    // Concurrent starts each rename a whole file: none reads a half-written cache.
    renameSync(temp, path);
  } catch {
    rmSync(temp, { force: true });
  }
}

/**
 * V8 rejects a code cache made under other V8 flags: a run with flags (`replay`, which the
 * egressd command starts with --no-turbofan) keeps a cache of its own, so runs with and without
 * them do not each replace the other's.
 */
function codeCachePath(bundlePath: string): string {
  const flags = process.execArgv.map((arg) => arg.replace(/^-+/, '').replace(/[^A-Za-z0-9=-]+/g, '_'));
  return flags.length === 0 ? `${bundlePath}.cache` : `${bundlePath}.${flags.join('.')}.cache`;
}

async function launch(): Promise<void> {
  // `replay capture.pcap`: the capture worker starts now and works while the CLI loads. Other
  // commands load nothing for it (no worker_threads for `version`).
  const args = process.argv.slice(2);
  const spawned = args.includes('replay') ? (await import('./early-replay.js')).startReplayEarly(args) : undefined;
  const dir = dirname(fileURLToPath(import.meta.url));
  // An option's value named like a command only picks the slower start.
  const bundlePath = join(dir, process.argv.slice(2).some((arg) => CONFIG_COMMANDS.has(arg)) ? BUNDLE_FILE : BRIEF_BUNDLE_FILE);
  const cachePath = codeCachePath(bundlePath);
  // The bundle is ASCII only (charset: 'ascii'): latin1 is the cheapest exact decoding.
  const source = readFileSync(bundlePath, 'latin1');
  const bundleId = BUNDLE_ID.exec(source)?.[1];
  if (bundleId === undefined) throw new Error(`${bundlePath}: not the egressd CLI bundle`);
  const cachedData = readCodeCache(cachePath, bundleId);
  const script = new Script(source, { filename: bundlePath, cachedData });
  // Written at exit, the cache also holds the functions this run compiled lazily.
  if (cachedData === undefined || script.cachedDataRejected === true) process.once('exit', () => writeCodeCache(script, cachePath, bundleId));
  const body = script.runInThisContext() as ModuleBody;
  const module = { exports: {} as { runProgram?: (argv: string[], spawned?: SpawnedPcapWorker) => void } };
  body.call(module.exports, module.exports, createRequire(bundlePath), module, bundlePath, dir);
  if (typeof module.exports.runProgram !== 'function') throw new Error(`${bundlePath}: not the egressd CLI bundle`);
  module.exports.runProgram(process.argv, spawned);
}

void launch();
