import type { Registry } from 'prom-client';
import { counter, gauge } from '../../telemetry/metrics.js';

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
