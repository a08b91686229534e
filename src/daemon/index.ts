import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { loadRules, type Rules } from '../config/rules.js';
import { createDetectionEngine } from '../detect/index.js';
import type { DetectionEngine } from '../detect/types.js';
import { Enricher } from '../enrich/index.js';
import { EgressdError } from '../errors.js';
import type { IncidentChange } from '../incidents/types.js';
import type { FlowRecord } from '../record.js';
import { createJournalSink } from '../sinks/journal/index.js';
import type { AuditEvent, Sink } from '../sinks/types.js';
import { inputSourceId, openInput, pcapWorkerWanted, replayInput, replayInWorker, type ReplayOptions } from '../sources/formats.js';
import type { PcapWorkerReplay } from '../sources/pcap/threaded.js';
import type { FormatName, Source } from '../sources/types.js';
import type { Logger } from '../telemetry/logger.js';
import { sourceMetrics } from '../telemetry/metrics.js';
import type { Component } from './component.js';
import { Pipeline } from './pipeline.js';
import { VERSION } from './version.js';

export interface DaemonOptions {
  config: Config;
  /** SHA-256 of the config file as read, for the audit trail. */
  configDigest: string;
  logger: Logger;
  registry: Registry;
  /** `run` keeps going until stopped; `replay` reads `inputs` and ends. */
  mode: 'run' | 'replay';
  /** `worker`: the input's replay already running on a worker thread (see `startPcapReplay`). */
  inputs?: { path: string; format: FormatName; worker?: PcapWorkerReplay }[];
  replayOptions?: ReplayOptions;
  onRecords?: (batch: readonly FlowRecord[]) => void;
  onChanges?: (changes: readonly IncidentChange[]) => void;
  /** Extra sources (e.g. `--pcap-stdin`) besides the configured ones. */
  extraSources?: Config['sources'];
}

/** Factories of the components only some configurations use, loaded by `Daemon.create`. */
export interface OptionalComponents {
  createSource?: typeof import('../sources/index.js').createSource;
  createClickhouseSink?: typeof import('../sinks/clickhouse/index.js').createClickhouseSink;
  createTelemetryServer?: typeof import('../telemetry/server.js').createTelemetryServer;
}

/** Load the modules of the components `options` asks for (a replay loads no live source, server or client). */
export async function loadOptionalComponents(options: Pick<DaemonOptions, 'config' | 'mode'>): Promise<OptionalComponents> {
  const { config, mode } = options;
  const [sources, clickhouse, telemetry] = await Promise.all([
    mode === 'run' ? import('../sources/index.js') : undefined,
    config.clickhouse.url ? import('../sinks/clickhouse/index.js') : undefined,
    mode === 'run' && config.telemetry.listen ? import('../telemetry/server.js') : undefined,
  ]);
  return {
    createSource: sources?.createSource,
    createClickhouseSink: clickhouse?.createClickhouseSink,
    createTelemetryServer: telemetry?.createTelemetryServer,
  };
}

function required<T>(factory: T | undefined, what: string): T {
  if (factory === undefined) throw new EgressdError('USAGE', `${what} not loaded: build the daemon with Daemon.create`);
  return factory;
}

/**
 * The daemon: components built inertly from config, started in order, stopped in reverse.
 * A fatal component error stops everything and is reported by `done`.
 */
export class Daemon {
  readonly rules: Rules;
  readonly pipeline: Pipeline;
  readonly engine: DetectionEngine;
  private readonly sinks: Sink[] = [];
  private readonly sources: Source[] = [];
  private readonly started: Component[] = [];
  private readonly abort = new AbortController();
  private ready = false;
  private stopping: Promise<void> | undefined;
  private fatal: Error | undefined;
  private resolveDone!: (err: Error | undefined) => void;
  /** Resolves when the daemon has stopped: with the fatal error if one stopped it. */
  readonly done = new Promise<Error | undefined>((resolve) => (this.resolveDone = resolve));
  private timers: NodeJS.Timeout[] = [];
  private readonly telemetry: Component | undefined;

  /** Build the daemon with the modules its configuration needs loaded first. */
  static async create(options: DaemonOptions): Promise<Daemon> {
    return new Daemon(options, await loadOptionalComponents(options));
  }

  constructor(
    private readonly options: DaemonOptions,
    components: OptionalComponents,
  ) {
    const { config, logger, registry } = options;
    this.rules = loadRules(config.rules_dir);
    const enricher = new Enricher(this.rules.networks, this.rules.approved);
    const common = {
      registry,
      stateDir: config.state_dir,
      onFatal: (err: Error) => this.onFatal(err),
      audit: (event: AuditEvent) => this.pipeline.audit(event),
    };
    // Replay can be run again from its input: its journal is fsync'd once at the end, not per commit.
    this.sinks.push(createJournalSink(config.journal, { ...common, logger: logger.child({ component: 'journal' }) }, { deferSync: options.mode === 'replay' }));
    if (config.clickhouse.url) {
      const createClickhouseSink = required(components.createClickhouseSink, 'the ClickHouse sink');
      this.sinks.push(createClickhouseSink(config.clickhouse, { ...common, logger: logger.child({ component: 'clickhouse' }) }));
    }
    this.engine = createDetectionEngine({
      config: config.detection,
      rules: this.rules.detection,
      logger: logger.child({ component: 'detect' }),
      registry,
      stateDir: config.state_dir,
    });
    this.pipeline = new Pipeline({
      enricher,
      engine: this.engine,
      sinks: this.sinks,
      registry,
      logger: logger.child({ component: 'pipeline' }),
      queueBatches: config.pipeline.queue_batches,
      onRecords: options.onRecords,
      onChanges: options.onChanges,
    });
    if (options.mode === 'run') {
      const createSource = required(components.createSource, 'the live sources');
      for (const sourceConfig of [...config.sources, ...(options.extraSources ?? [])]) {
        this.sources.push(
          createSource(sourceConfig, {
            ...common,
            logger: logger.child({ component: `source:${sourceConfig.type}` }),
            out: this.pipeline,
          }),
        );
      }
      if (config.telemetry.listen) {
        this.telemetry = required(components.createTelemetryServer, 'the telemetry server')({
          listen: config.telemetry.listen,
          registry,
          logger: logger.child({ component: 'telemetry' }),
          ready: () => this.ready,
        });
      }
    }
  }

  private onFatal(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    this.options.logger.fatal({ err }, 'fatal component error: stopping');
    void this.stop('fatal');
  }

  private async startComponent(component: Component): Promise<void> {
    await component.start();
    this.started.push(component);
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    mkdirSync(config.state_dir, { recursive: true });
    for (const sink of this.sinks) await this.startComponent(sink);
    if (this.telemetry) await this.startComponent(this.telemetry);
    // Replay starts from a clean slate every time, so its output is deterministic.
    if (this.options.mode === 'run') await this.engine.open();
    this.pipeline.audit({
      action: 'start',
      at: Date.now(),
      version: VERSION,
      mode: this.options.mode,
      config_sha256: this.options.configDigest,
      rules_sha256: this.rules.digests,
    });
    this.auditApprovals('rules_loaded');
    for (const source of this.sources) await this.startComponent(source);
    if (this.options.mode === 'run') this.startTimers();
    this.ready = true;
    logger.info({ mode: this.options.mode, sources: this.sources.map((s) => s.name) }, 'egressd started');
  }

  /** Which approvals are in force, so the journal always says what applied when. */
  private auditApprovals(action: string): void {
    this.pipeline.audit({
      action,
      at: Date.now(),
      rules_sha256: this.rules.digests,
      internal_ranges: this.rules.networks.internal.length,
      approved_sources: this.rules.approved.sources.map((s) => ({
        name: s.name,
        owner: s.owner,
        expires: s.expires === undefined ? null : new Date(s.expires).toISOString(),
      })),
    });
  }

  private startTimers(): void {
    const { config } = this.options;
    // A quiet network still advances time, so incidents resolve; late records get a minute.
    const tick = setInterval(() => {
      void this.pipeline.tick(Date.now() - 60_000).catch((err: Error) => this.onFatal(err));
    }, 5_000);
    const snapshot = setInterval(() => {
      void this.engine.save().catch((err: Error) => this.options.logger.error({ err }, 'detection snapshot failed'));
    }, config.pipeline.snapshot_interval);
    tick.unref();
    snapshot.unref();
    this.timers.push(tick, snapshot);
  }

  /** Replay every input in order, then close every window. */
  async replay(): Promise<void> {
    const metrics = sourceMetrics(this.options.registry);
    for (const input of this.options.inputs ?? []) {
      if (this.abort.signal.aborted) break;
      const sourceId = inputSourceId(input.path);
      const ctx = { sourceId, out: this.pipeline, metrics, logger: this.options.logger.child({ component: `replay:${input.format}` }), signal: this.abort.signal };
      if (input.worker !== undefined && input.worker.sourceId === sourceId) {
        await replayInWorker(input.worker, ctx, { registry: this.options.registry });
        continue;
      }
      input.worker?.cancel();
      await replayInput(openInput(input.path, input.format), input.format, ctx, {
        registry: this.options.registry,
        pcapWorker: pcapWorkerWanted(),
        ...this.options.replayOptions,
      });
    }
    await this.pipeline.finish();
  }

  /** Re-read rules (SIGHUP): enrichment picks up new networks and approvals. */
  reloadRules(): void {
    try {
      const rules = loadRules(this.options.config.rules_dir);
      this.pipeline.replaceEnricher(new Enricher(rules.networks, rules.approved));
      Object.assign(this.rules, rules);
      this.auditApprovals('rules_reloaded');
      this.options.logger.info({ rules_sha256: rules.digests }, 'rules reloaded');
    } catch (err) {
      this.options.logger.error({ err }, 'rules reload rejected; previous rules stay in force');
    }
  }

  /** Abort replay reading (SIGTERM during replay): what was read is still flushed. */
  abortInputs(): void {
    this.abort.abort();
  }

  stop(reason: string): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<void> {
    const { logger } = this.options;
    this.ready = false;
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    let failure = this.fatal;
    const attempt = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        logger.error({ err, step: what }, 'error while stopping');
        failure ??= err as Error;
      }
    };
    // Sources first, so nothing new arrives; then drain, snapshot, and sinks last.
    for (const source of [...this.sources].reverse()) {
      if (this.started.includes(source)) await attempt(`stop ${source.name}`, () => source.stop());
    }
    if (!this.fatal) await attempt('drain pipeline', () => this.pipeline.idle());
    if (this.options.mode === 'run') await attempt('save detection state', () => this.engine.save());
    this.pipeline.audit({ action: 'stop', at: Date.now(), reason, event_time: this.pipeline.eventTime });
    if (!this.fatal) await attempt('write stop event', () => this.pipeline.idle());
    for (const component of [...this.started].reverse()) {
      if (this.sources.includes(component as Source)) continue;
      const sink = this.sinks.find((s) => s === component);
      if (sink) await attempt(`flush ${sink.name}`, () => sink.flush());
      await attempt(`stop ${component.name}`, () => component.stop());
    }
    logger.info({ reason }, 'egressd stopped');
    this.resolveDone(failure);
  }
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function assertStateDirWritable(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new EgressdError('CONFIG_INVALID', `state_dir ${dir}: cannot create: ${(err as Error).message}`, { cause: err });
  }
}
