#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { createWriteStream, mkdtempSync, readFileSync, realpathSync, rmSync, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { VERSION } from '../daemon/version.js';
import { EgressdError, isEgressdError } from '../errors.js';
import type { Incident } from '../incidents/types.js';
import { detectFileFormat, FORMAT_NAMES, startPcapReplay } from '../sources/formats.js';
import type { SpawnedPcapWorker } from '../sources/pcap/spawn.js';
import type { PcapWorkerReplay } from '../sources/pcap/threaded.js';
import type { FormatName } from '../sources/types.js';
import type { Logger } from '../telemetry/logger.js';

// Each command imports what it needs when it runs: `version` or `--help` load no config
// schema, no metrics library and no sink, and `replay` no ClickHouse client or live source.

// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

interface GlobalOptions {
  config?: string;
  rules?: string;
  stateDir?: string;
  logLevel?: string;
}

function exitCodeFor(err: unknown): number {
  if (isEgressdError(err) && (err.code === 'CONFIG_INVALID' || err.code === 'RULES_INVALID' || err.code === 'USAGE')) return EXIT_USAGE;
  return EXIT_RUNTIME;
}

async function configDigest(path: string | undefined): Promise<string> {
  if (!path) return 'defaults';
  const { sha256 } = await import('../daemon/index.js');
  try {
    return sha256(readFileSync(path));
  } catch {
    return 'unreadable';
  }
}

async function load(opts: GlobalOptions, stateDirFallback?: () => string): Promise<Config> {
  const { loadConfig } = await import('../config/load.js');
  const config = loadConfig(opts.config, { stateDir: opts.stateDir, rulesDir: opts.rules });
  if (opts.stateDir || !stateDirFallback) return config;
  // Replay never shares a running daemon's state: without --state-dir it gets its own.
  const fileSetsStateDir = opts.config !== undefined && /^\s*state_dir\s*:/m.test(readFileSync(opts.config, 'utf8'));
  if (fileSetsStateDir || process.env.EGRESSD_STATE_DIR) return config;
  // Only state_dir differs from parsing again with it: no other option depends on it.
  return { ...config, state_dir: stateDirFallback() };
}

/** First signal: graceful stop. Second: exit at once. */
function onSignals(first: (signal: string) => void): void {
  let seen = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (seen) process.exit(EXIT_RUNTIME);
      seen = true;
      first(signal);
    });
  }
}

function graceTimer(ms: number, logger: Logger): void {
  setTimeout(() => {
    logger.fatal({ grace_ms: ms }, 'shutdown grace period exceeded: exiting');
    process.exit(EXIT_RUNTIME);
  }, ms).unref();
}

async function runCommand(opts: GlobalOptions & { pcapStdin?: boolean }): Promise<number> {
  const config = await load(opts);
  const [{ Daemon }, { createLogger }, { createRegistry }, { pcapSourceSchema }] = await Promise.all([
    import('../daemon/index.js'),
    import('../telemetry/logger.js'),
    import('../telemetry/metrics.js'),
    import('../sources/pcap/config.js'),
  ]);
  const logger = createLogger({ level: opts.logLevel ?? config.telemetry.log_level });
  const registry = createRegistry({ defaultMetrics: true });
  const daemon = await Daemon.create({
    config,
    configDigest: await configDigest(opts.config),
    logger,
    registry,
    mode: 'run',
    extraSources: opts.pcapStdin ? [pcapSourceSchema.parse({ type: 'pcap', path: '-' })] : [],
  });
  onSignals((signal) => {
    logger.info({ signal }, 'stopping');
    graceTimer(config.pipeline.shutdown_grace, logger);
    void daemon.stop(signal);
  });
  process.on('SIGHUP', () => daemon.reloadRules());
  try {
    await daemon.start();
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    await daemon.stop('start_failed');
    throw err;
  }
  const failure = await daemon.done;
  return failure ? EXIT_RUNTIME : EXIT_OK;
}

type ReplayCommandOptions = GlobalOptions & { format?: FormatName; out?: string; emit: 'incidents' | 'records'; table?: boolean; squidLogformat?: string };

/**
 * When the capture worker is wanted (pcapWorkerWanted), a capture file first in line starts replaying on a worker thread at
 * once (or goes on with the worker the launcher already started for it), while this thread loads
 * config, rules and the pipeline. Any problem here is left for the replay itself to report.
 */
async function startEarlyReplay(path: string | undefined, format: FormatName | undefined, spawned: SpawnedPcapWorker | undefined): Promise<PcapWorkerReplay | undefined> {
  let replay: PcapWorkerReplay | undefined;
  try {
    if (path !== undefined && path !== '-' && (format === 'pcap' || (format === undefined && (await detectFileFormat(path)) === 'pcap'))) {
      replay = await startPcapReplay(path, spawned);
    }
  } catch {
    // Left for the replay itself to report.
  }
  // startPcapReplay went on with the launcher's worker or stopped it; without a replay, nothing did.
  if (replay === undefined) spawned?.discard();
  return replay;
}

async function replayCommand(files: string[], opts: ReplayCommandOptions, spawned: SpawnedPcapWorker | undefined): Promise<number> {
  const early = await startEarlyReplay(files[0], opts.format, spawned);
  try {
    return await replayFiles(files, opts, early);
  } finally {
    early?.cancel();
  }
}

async function replayFiles(files: string[], opts: ReplayCommandOptions, early: PcapWorkerReplay | undefined): Promise<number> {
  // A state directory of the replay's own is removed at the end, also when a second signal exits
  // at once: --state-dir keeps one.
  let removeOwnStateDir: (() => void) | undefined;
  const config = await load(opts, () => {
    const dir = mkdtempSync(join(tmpdir(), 'egressd-replay-'));
    removeOwnStateDir = () => rmSync(dir, { recursive: true, force: true });
    process.once('exit', removeOwnStateDir);
    return dir;
  });
  try {
    return await replayInto(config, files, opts, early);
  } finally {
    if (removeOwnStateDir) {
      process.removeListener('exit', removeOwnStateDir);
      removeOwnStateDir();
    }
  }
}

async function replayInto(config: Config, files: string[], opts: ReplayCommandOptions, early: PcapWorkerReplay | undefined): Promise<number> {
  const [{ Daemon }, { createLogger }, { createRegistry }, { incidentsTable, sortIncidents }] = await Promise.all([
    import('../daemon/index.js'),
    import('../telemetry/logger.js'),
    import('../telemetry/metrics.js'),
    import('./output.js'),
  ]);
  // stdout carries the output: logs go to stderr.
  const logger = createLogger({ level: opts.logLevel ?? (config.telemetry.log_level === 'info' ? 'warn' : config.telemetry.log_level), destination: 2 });
  if (files.includes('-') && !opts.format) throw new EgressdError('USAGE', 'reading standard input needs --format');
  const inputs = [];
  for (const path of files) {
    const format = opts.format ?? (await detectFileFormat(path));
    inputs.push({ path, format, worker: inputs.length === 0 && format === 'pcap' ? early : undefined });
  }
  const out: NodeJS.WritableStream = opts.out ? createWriteStream(opts.out) : process.stdout;
  const incidents = new Map<string, Incident>();
  // A reader that went away (`| head`) ends the replay quietly; any other write error fails it.
  let readerGone = false;
  let writeFailure: EgressdError | undefined;
  const output = { stopInputs: (): void => undefined };
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (readerGone || writeFailure) return;
    if (err.code === 'EPIPE') readerGone = true;
    else writeFailure = new EgressdError('IO', `writing ${opts.out ?? 'standard output'}: ${err.message}`);
    output.stopInputs();
  });
  const write = (text: string) => {
    if (readerGone || writeFailure) return;
    if (!out.write(text)) pendingDrain = true;
  };
  let pendingDrain = false;
  const daemon = await Daemon.create({
    config,
    configDigest: await configDigest(opts.config),
    logger,
    registry: createRegistry(),
    mode: 'replay',
    inputs,
    replayOptions: opts.squidLogformat ? { squid: { logformat: opts.squidLogformat } } : {},
    onRecords:
      opts.emit === 'records'
        ? (batch) => {
            let text = '';
            for (const rec of batch) text += JSON.stringify(rec) + '\n';
            write(text);
          }
        : undefined,
    onChanges: (changes) => {
      for (const { incident } of changes) incidents.set(incident.id, incident);
    },
  });
  onSignals((signal) => {
    logger.warn({ signal }, 'replay interrupted: flushing what was read');
    graceTimer(config.pipeline.shutdown_grace, logger);
    daemon.abortInputs();
  });
  output.stopInputs = () => daemon.abortInputs();
  if (readerGone || writeFailure) output.stopInputs();
  await daemon.start();
  let failure: unknown;
  try {
    await daemon.replay();
  } catch (err) {
    failure = err;
  }
  await daemon.stop(failure ? 'replay_failed' : 'replay_done');
  const stopFailure = await daemon.done;
  if (opts.emit === 'incidents') {
    const sorted = sortIncidents(incidents.values());
    write(opts.table ? incidentsTable(sorted) : sorted.map((i) => JSON.stringify(i) + '\n').join(''));
  }
  await new Promise<void>((resolve) => {
    if (readerGone || writeFailure) {
      if (out !== process.stdout) (out as WriteStream).destroy();
      resolve();
    } else if (out === process.stdout) {
      if (!pendingDrain) return resolve();
      process.stdout.once('drain', resolve);
      process.stdout.once('error', () => resolve());
    } else (out as WriteStream).end(resolve);
  });
  if (failure) throw failure;
  if (writeFailure) throw writeFailure;
  return stopFailure ? EXIT_RUNTIME : EXIT_OK;
}

async function checkCommand(opts: GlobalOptions): Promise<number> {
  const config = await load(opts);
  const [{ Daemon }, { createLogger }, { createRegistry }] = await Promise.all([
    import('../daemon/index.js'),
    import('../telemetry/logger.js'),
    import('../telemetry/metrics.js'),
  ]);
  const logger = createLogger({ level: 'silent' });
  // Build everything inertly: no sockets, files or timers.
  const daemon = await Daemon.create({ config, configDigest: await configDigest(opts.config), logger, registry: createRegistry(), mode: 'run' });
  const r = daemon.rules;
  process.stdout.write(
    [
      `config ok: ${opts.config ?? '(defaults)'}`,
      `rules ok: ${config.rules_dir} (${r.networks.internal.length} internal ranges, ${r.approved.sources.length} approved sources)`,
      `sources: ${config.sources.map((s) => s.type).join(', ') || 'none'}`,
      `sinks: journal${config.clickhouse.url ? ', clickhouse' : ''}`,
      `state_dir: ${config.state_dir}`,
    ].join('\n') + '\n',
  );
  return EXIT_OK;
}

async function verifyCommand(opts: GlobalOptions): Promise<number> {
  const config = await load(opts);
  const { describeBroken, verifyJournal } = await import('../sinks/journal/index.js');
  const result = await verifyJournal(config.state_dir);
  if (result.ok) {
    process.stdout.write(
      `journal ok: ${result.entries} entries in ${result.files} file(s) under ${config.state_dir}\n` +
        `head: seq ${result.head.seq} sha256 ${result.head.hash}\n`,
    );
    return EXIT_OK;
  }
  const b = result.broken;
  process.stdout.write(
    `journal BROKEN: ${b ? describeBroken(b) : 'unknown reason'} (${result.entries} entries verified before it)\n`,
  );
  return EXIT_RUNTIME;
}

async function schemaApplyCommand(opts: GlobalOptions): Promise<number> {
  const config = await load(opts);
  if (!config.clickhouse.url) throw new EgressdError('USAGE', 'no ClickHouse configured: set clickhouse.url or EGRESSD_CLICKHOUSE_URL');
  const { createLogger } = await import('../telemetry/logger.js');
  const logger = createLogger({ level: opts.logLevel ?? 'info', destination: 2 });
  const mod = (await import('../sinks/clickhouse/index.js')) as Record<string, unknown>;
  const apply = mod.applySchema as ((c: Config['clickhouse'], l: Logger) => Promise<unknown>) | undefined;
  if (!apply) throw new EgressdError('USAGE', 'this build has no ClickHouse schema support');
  await apply(config.clickhouse, logger);
  process.stdout.write(`schema applied to ${config.clickhouse.url} database ${config.clickhouse.database}\n`);
  return EXIT_OK;
}

/** `spawned`: a capture worker the launcher started for the command line's first input, if any. */
export function buildProgram(setExit: (code: number) => void, spawned?: SpawnedPcapWorker): Command {
  const program = new Command('egressd')
    .description('Egress anomaly detection: flags bursty, machine-scale acquisition leaving the network')
    .option('-c, --config <file>', 'YAML config file (defaults apply without one)')
    .option('-r, --rules <dir>', 'rules directory (networks.yaml, approved-sources.yaml, detection.yaml)')
    .option('-s, --state-dir <dir>', 'state directory (journal, checkpoints, spool, snapshots)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .exitOverride()
    .showHelpAfterError();
  const globals = () => program.opts<GlobalOptions>();
  const wrap =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      setExit(await fn(...args));

  program
    .command('run')
    .description('run the daemon on the configured sources until SIGTERM')
    .option('--pcap-stdin', 'also read a pcap/pcapng stream from standard input (tcpdump -w -)')
    .action(wrap(async (cmd: { pcapStdin?: boolean }) => runCommand({ ...globals(), ...cmd })));
  program
    .command('replay')
    .description('run the same pipeline over files on event time; incidents as JSON lines')
    .argument('<files...>', 'capture or log files (- for standard input, with --format)')
    .addOption(new Option('-f, --format <format>', 'force the input format').choices([...FORMAT_NAMES]))
    .option('-o, --out <file>', 'write output here instead of stdout')
    .addOption(new Option('--emit <what>', 'what to output').choices(['incidents', 'records']).default('incidents'))
    .option('--table', 'print incidents as a table for people')
    .option('--squid-logformat <format>', 'Squid logformat: squid, common, combined or % codes')
    .action(wrap(async (files: string[], cmd: Record<string, unknown>) => replayCommand(files, { ...globals(), ...(cmd as object), emit: (cmd.emit as 'incidents' | 'records') ?? 'incidents' }, spawned)));
  program
    .command('check')
    .description('validate config and rules, build every component inertly, exit')
    .action(wrap(async () => checkCommand(globals())));
  program
    .command('verify')
    .description('recompute the journal hash chain; names the first broken entry')
    .action(wrap(async () => verifyCommand(globals())));
  program
    .command('version')
    .description('print the version')
    .action(wrap(async () => {
      process.stdout.write(`egressd ${VERSION} (Node.js ${process.version})\n`);
      return EXIT_OK;
    }));
  const schema = program.command('schema').description('ClickHouse schema');
  schema
    .command('apply')
    .description('create or migrate the ClickHouse schema (idempotent)')
    .action(wrap(async () => schemaApplyCommand(globals())));
  return program;
}

export async function main(argv: string[], spawned?: SpawnedPcapWorker): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((c) => (code = c), spawned);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    process.stderr.write(`egressd: ${err instanceof Error ? err.message : String(err)}\n`);
    return exitCodeFor(err);
  } finally {
    // A command line the launcher read as a capture replay that turned out otherwise (usage error, help).
    spawned?.discard();
  }
  return code;
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

/**
 * Run as the `egressd` program: the exit code of `main`, and no leftover keeping the process alive.
 * `spawned`: the capture worker the launcher started early (src/cli/early-replay.ts), if any.
 */
export function runProgram(argv: string[] = process.argv, spawned?: SpawnedPcapWorker): void {
  void main(argv, spawned).then((code) => {
    // The command is done: exit now. Nothing a failed start left behind keeps the process alive,
    // and the heap is not torn down on the way out (some 20 ms after a large replay). 'exit'
    // handlers still run (the log's flush); standard output and error are synchronous on Linux.
    process.exit(code);
  });
}

// `node dist/src/cli/main.js` (the tsc build); the bundled CLI is started by launch.ts.
if (invokedDirectly()) runProgram();
