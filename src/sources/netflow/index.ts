import type { Readable } from 'node:stream';
import type { ReplayContext, Source, SourceDeps } from '../types.js';
import type { NetflowSourceConfig } from './config.js';

/** Decode a pcap of exported NetFlow/IPFIX UDP datagrams (testing without a socket). */
export async function replayNetflowPcap(_input: Readable, _ctx: ReplayContext, _config: NetflowSourceConfig): Promise<void> {
  throw new Error('netflow replay: not implemented yet');
}

export function createNetflowSource(_config: NetflowSourceConfig, _deps: SourceDeps): Source {
  throw new Error('netflow source: not implemented yet');
}
