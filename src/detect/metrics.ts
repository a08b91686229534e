import type { Registry } from 'prom-client';
import { counter, gauge } from '../telemetry/metrics.js';

export function detectMetrics(registry: Registry) {
  return {
    records: counter(registry, 'detect_records_total', 'Egress records seen by detection, by class', ['class']),
    trackedHosts: gauge(registry, 'detect_tracked_hosts', 'Internal hosts with detection state'),
    stateBytes: gauge(registry, 'detect_state_bytes', 'Estimated heap bytes held by detection state'),
    evicted: counter(registry, 'detect_hosts_evicted_total', 'Hosts dropped from detection state, by reason', ['reason']),
    swarmKeys: gauge(registry, 'detect_swarm_keys', 'Info hashes and sources tracked for swarm correlation'),
    objectKeys: gauge(registry, 'detect_object_keys', 'Proxy objects tracked to spot the same object across hosts'),
    findings: counter(registry, 'detect_findings_total', 'Evaluations that passed a rule, by kind', ['kind']),
    incidents: counter(registry, 'incidents_changes_total', 'Incident changes, by kind, severity and change', ['kind', 'severity', 'change']),
    openIncidents: gauge(registry, 'incidents_open', 'Incidents currently open'),
  };
}
export type DetectMetrics = ReturnType<typeof detectMetrics>;
