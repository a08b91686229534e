import type { LineDecoder } from '../types.js';
import type { SquidFormatConfig } from './config.js';

/** Squid access.log in native, common, combined or a custom logformat. */
export function createSquidDecoder(_sourceId: string, _config: SquidFormatConfig): LineDecoder {
  throw new Error('squid decoder: not implemented yet');
}
