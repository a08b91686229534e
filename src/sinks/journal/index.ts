import type { CommonDeps } from '../../daemon/component.js';
import type { Sink } from '../types.js';
import type { JournalConfig } from './config.js';

export interface VerifyResult {
  ok: boolean;
  entries: number;
  files: number;
  /** First broken entry: file, 1-based line and why. */
  broken?: { file: string; line: number; reason: string };
}

export function createJournalSink(_config: JournalConfig, _deps: CommonDeps): Sink {
  throw new Error('journal: not implemented yet');
}

export async function verifyJournal(_stateDir: string): Promise<VerifyResult> {
  throw new Error('journal verify: not implemented yet');
}
