import type { LineDecoder } from '../types.js';

/** AWS VPC Flow Logs: default v2 format, or the field order of a header line. */
export function createVpcDecoder(_sourceId: string): LineDecoder {
  throw new Error('vpc decoder: not implemented yet');
}
