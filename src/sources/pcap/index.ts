import type { Readable } from 'node:stream';
import type { ReplayContext, Source, SourceDeps } from '../types.js';
import type { PcapSourceConfig } from './config.js';

/** Decode a whole pcap/pcapng capture into flow records. */
export async function replayPcap(_input: Readable, _ctx: ReplayContext, _config: PcapSourceConfig): Promise<void> {
  throw new Error('pcap replay: not implemented yet');
}

export function createPcapSource(_config: PcapSourceConfig, _deps: SourceDeps): Source {
  throw new Error('pcap source: not implemented yet');
}
