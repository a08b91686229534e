import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';
import { sourceMetrics } from '../../telemetry/metrics.js';
import { STANDARD_INPUT, type InputDescriptor, type ReplayContext, type Source, type SourceDeps } from '../types.js';
import type { PcapSourceConfig } from './config.js';
import { pcapMetrics } from './metrics.js';
import { replayCapture, type CaptureReplayOptions } from './replay.js';

export { flowOptions } from './replay.js';

export interface PcapReplayOptions extends CaptureReplayOptions {
  /** Registry for the packet-source metrics (packets, skips, flow table); shared counters go to ctx.metrics. */
  registry?: Registry;
}

/**
 * Decode a whole pcap/pcapng capture (file or pipe) into flow records pushed to `ctx.out`.
 * Time is packet time; at the end of input every open flow becomes a record.
 */
export function replayPcap(input: Readable | InputDescriptor, ctx: ReplayContext, config: PcapSourceConfig, options: PcapReplayOptions = {}): Promise<void> {
  const pcap = options.pcapMetrics ?? (options.registry ? pcapMetrics(options.registry) : undefined);
  return replayCapture(input, ctx, config, { pcapMetrics: pcap, wallClockIdle: options.wallClockIdle });
}

/** The daemon's packet source: a capture file, or standard input for `path: '-'`. */
export function createPcapSource(config: PcapSourceConfig, deps: SourceDeps): Source {
  const fromStdin = config.path === '-';
  const id = config.id ?? (fromStdin ? 'stdin' : basename(config.path));
  const logger = deps.logger.child({ component: 'source.pcap', id });
  const abort = new AbortController();
  let resolveFinished!: () => void;
  let rejectFinished!: (err: unknown) => void;
  const finished = new Promise<void>((res, rej) => {
    resolveFinished = res;
    rejectFinished = rej;
  });
  // Nobody may await `finished` for a live source; a failure still reaches onFatal.
  finished.catch(() => undefined);
  let running: Promise<void> | undefined;
  let input: Readable | undefined;

  return {
    name: `source.pcap:${id}`,
    finished,
    async start() {
      // Standard input is read straight into the packet core; the abort stops that read.
      input = fromStdin ? undefined : createReadStream(config.path);
      const ctx: ReplayContext = { sourceId: id, out: deps.out, metrics: sourceMetrics(deps.registry), logger, signal: abort.signal };
      running = replayPcap(input ?? STANDARD_INPUT, ctx, config, { registry: deps.registry, wallClockIdle: fromStdin }).then(
        () => {
          logger.info('capture input ended');
          resolveFinished();
        },
        (err: unknown) => {
          logger.error({ err }, 'capture source failed');
          rejectFinished(err);
          deps.onFatal(err instanceof Error ? err : new Error(String(err)));
        },
      );
    },
    async stop() {
      abort.abort();
      // Unblock a pending read so the loop sees the abort and flushes its open flows.
      input?.destroy();
      await running;
    },
  };
}
