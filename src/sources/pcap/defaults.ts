import type { PcapSourceConfig } from './config.js';

/**
 * `pcapSourceSchema.parse({ type: 'pcap' })` as plain data (a test keeps the two equal): the
 * replay worker starts with it before the main thread has loaded the config schemas.
 */
export const PCAP_REPLAY_DEFAULTS: PcapSourceConfig = {
  type: 'pcap',
  path: '-',
  idleTimeout: 60_000,
  activeTimeout: 300_000,
  closeLinger: 2_000,
  maxFlows: 100_000,
  maxInspectPackets: 16,
  maxInspectBytes: 32 * 1024 * 1024,
  knownPeers: { max: 65_536, ttl: 3_600_000 },
  dnsCache: { max: 65_536, ttl: 3_600_000 },
  batchSize: 256,
};
