import { mkdir } from 'node:fs/promises';
import { createSquidDecoder } from '../../decode/squid/index.js';
import type { LineDecoder } from '../../decode/types.js';
import { createVpcDecoder } from '../../decode/vpc/index.js';
import { createZeekDecoder } from '../../decode/zeek/index.js';
import { RateLimitedLog } from '../../telemetry/logger.js';
import { sourceMetrics } from '../../telemetry/metrics.js';
import type { Source, SourceDeps } from '../types.js';
import { checkpointDir } from './checkpoint.js';
import type { FileSourceConfig } from './config.js';
import { fileSourceMetrics } from './metrics.js';
import { PushFailed, TailedFile, type HeaderLineTest } from './tail.js';

export { replayLines, type ReplayLinesOptions } from './replay.js';

/** A fresh decoder for one file of the configured format (header state is per file). */
export function lineDecoderFor(config: FileSourceConfig, id: string): LineDecoder {
  switch (config.format) {
    case 'zeek':
      return createZeekDecoder(id);
    case 'vpc':
      return createVpcDecoder(id);
    case 'squid':
      return createSquidDecoder(id, config.squid);
  }
}

/** Which earlier lines a decoder must see again when reading resumes mid-file. */
const HEADER_LINES: Record<FileSourceConfig['format'], HeaderLineTest | undefined> = {
  zeek: (line) => line.charCodeAt(0) === 35 /* # */,
  vpc: (_line, index) => index === 0,
  squid: undefined,
};

/**
 * Tail files with rotation and checkpoints. Inert until `start()`; each pass reads every file to
 * its end, then the next pass is `poll_interval` later. `stop()` finishes the pass under way
 * (its records pushed), writes final checkpoints and closes the files.
 */
export function createFileSource(config: FileSourceConfig, deps: SourceDeps): Source {
  const logger = deps.logger.child({ component: 'source.file', format: config.format });
  const rateLimited = new RateLimitedLog(logger);
  let files: TailedFile[] = [];
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let stopped = false;
  const stopping = () => stopped;

  const runPass = async (): Promise<void> => {
    for (const file of files) {
      if (stopped) return;
      try {
        await file.poll(stopping);
      } catch (err) {
        if (err instanceof PushFailed) {
          stopped = true;
          deps.onFatal(err);
          return;
        }
        fileMetrics.ioErrors.inc({ source: config.format, id: config.id ?? file.path });
        rateLimited.warn(`io:${file.path}`, { err, path: file.path }, 'reading a tailed file failed; retrying at the next poll');
      }
    }
  };

  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      pass = runPass().finally(() => {
        pass = undefined;
        schedule(config.poll_interval);
      });
    }, delay);
  };

  const metrics = sourceMetrics(deps.registry);
  const fileMetrics = fileSourceMetrics(deps.registry);

  return {
    name: `source.file.${config.format}`,
    async start() {
      stopped = false;
      await mkdir(checkpointDir(deps.stateDir), { recursive: true });
      files = config.paths.map((path) => {
        const id = config.id ?? path;
        return new TailedFile(path, {
          format: config.format,
          id,
          newDecoder: () => lineDecoderFor(config, id),
          headerLine: HEADER_LINES[config.format],
          out: deps.out,
          metrics,
          fileMetrics,
          logger,
          stateDir: deps.stateDir,
          audit: deps.audit,
          startAtEnd: config.start_at === 'end',
        });
      });
      schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await pass;
      for (const file of files) {
        try {
          await file.close();
        } catch (err) {
          fileMetrics.ioErrors.inc({ source: config.format, id: config.id ?? file.path });
          logger.error({ err, path: file.path }, 'final checkpoint failed');
        }
      }
      files = [];
    },
  };
}
