import type { Registry } from 'prom-client';
import type { TrackerStats } from '../../decode/packet/flows.js';
import { counter, gauge, type SourceMetrics } from '../../telemetry/metrics.js';

/** Packet-source metrics beyond the shared source counters. */
export function pcapMetrics(registry: Registry) {
  return {
    packets: counter(registry, 'pcap_packets_total', 'Packets read from a capture', ['id']),
    skipped: counter(registry, 'pcap_packets_skipped_total', 'Packets not assembled into flows, by reason (non-IP, later IP fragments...)', [
      'id',
      'reason',
    ]),
    fragments: counter(registry, 'pcap_ip_fragments_total', 'IP fragments seen (counted, not reassembled)', ['id']),
    flowsEnded: counter(registry, 'pcap_flow_records_total', 'Flow records produced, by why the flow ended', ['id', 'reason']),
    evicted: counter(registry, 'pcap_flows_evicted_total', 'Flows ended early because the flow table was full', ['id']),
    trackedFlows: gauge(registry, 'pcap_tracked_flows', 'Flows currently tracked', ['id']),
    knownPeers: gauge(registry, 'pcap_known_peers', 'BitTorrent peer endpoints remembered', ['id']),
    dnsNames: gauge(registry, 'pcap_dns_cache_entries', 'DNS answers remembered (IP to name)', ['id']),
  };
}
export type PcapMetrics = ReturnType<typeof pcapMetrics>;

/** Move the tracker's plain counters into the metrics and zero them (called per chunk, not per packet). */
export function flushStats(
  stats: TrackerStats,
  sizes: { flows: number; knownPeers: number; dnsNames: number },
  source: SourceMetrics,
  pcap: PcapMetrics | undefined,
  id: string,
): void {
  if (stats.bytes > 0) source.bytes.inc({ source: 'pcap', id }, stats.bytes);
  for (const [reason, n] of stats.errors) source.errors.inc({ source: 'pcap', id, reason }, n);
  stats.errors.clear();
  if (pcap !== undefined) {
    if (stats.packets > 0) pcap.packets.inc({ id }, stats.packets);
    if (stats.fragments > 0) pcap.fragments.inc({ id }, stats.fragments);
    if (stats.evicted > 0) pcap.evicted.inc({ id }, stats.evicted);
    for (const [reason, n] of stats.skipped) pcap.skipped.inc({ id, reason }, n);
    for (const [reason, n] of stats.ended) pcap.flowsEnded.inc({ id, reason }, n);
    pcap.trackedFlows.set({ id }, sizes.flows);
    pcap.knownPeers.set({ id }, sizes.knownPeers);
    pcap.dnsNames.set({ id }, sizes.dnsNames);
  }
  stats.packets = 0;
  stats.bytes = 0;
  stats.fragments = 0;
  stats.evicted = 0;
  stats.skipped.clear();
  stats.ended.clear();
}
