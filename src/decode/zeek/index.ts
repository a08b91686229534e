import type { LineDecoder } from '../types.js';

/** Zeek conn.log, TSV (with `#fields` header) or JSON lines. */
export function createZeekDecoder(_sourceId: string): LineDecoder {
  throw new Error('zeek decoder: not implemented yet');
}
