import type { Readable } from 'node:stream';
import type { LineDecoder } from '../../decode/types.js';
import type { ReplayContext, Source, SourceDeps } from '../types.js';
import type { FileSourceConfig } from './config.js';

/** Read a whole line-oriented input (file or stdin) through a decoder. */
export async function replayLines(_input: Readable, _decoder: LineDecoder, _ctx: ReplayContext): Promise<void> {
  throw new Error('replayLines: not implemented yet');
}

/** Tail files with rotation and checkpoints. */
export function createFileSource(_config: FileSourceConfig, _deps: SourceDeps): Source {
  throw new Error('file source: not implemented yet');
}
