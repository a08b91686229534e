import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { NETFLOW_ANOMALIES, type FlowVersion, type NetflowDecoder } from '../../decode/netflow/index.js';
import { counter, gauge, type SourceMetrics } from '../../telemetry/metrics.js';

// The decoder keeps plain counters; they reach prom-client as deltas when metrics are collected
// (and on the source's flush timer), so the hot path never touches a labelled metric.

/** Brings one source's counters up to date; returns its gauges' current values. */
export type Syncer = () => { templates: number; waiting: number; exporters: number };
const syncersByRegistry = new WeakMap<Registry, Set<Syncer>>();

export function netflowMetrics(registry: Registry) {
  let syncers = syncersByRegistry.get(registry);
  if (!syncers) {
    syncers = new Set();
    syncersByRegistry.set(registry, syncers);
  }
  const all = syncers;
  // Registered first: its collect brings every counter below up to date before they are read.
  const templates = gauge(registry, 'netflow_templates', 'Templates held in the cache', [], function collect() {
    let held = 0;
    let waiting = 0;
    let exporters = 0;
    lastSeen.reset();
    for (const sync of all) {
      const g = sync();
      held += g.templates;
      waiting += g.waiting;
      exporters += g.exporters;
    }
    this.set(held);
    waitingSets.set(waiting);
    exporterCount.set(exporters);
  });
  const waitingSets = gauge(registry, 'netflow_waiting_sets', 'Data sets held until their template arrives');
  const exporterCount = gauge(registry, 'netflow_exporters', 'Exporters tracked');
  const lastSeen = gauge(registry, 'netflow_exporter_last_seen_seconds', 'Unix time of the last datagram per exporter (bounded)', [
    'exporter',
  ]);
  return {
    syncers: all,
    templates,
    waitingSets,
    exporters: exporterCount,
    exporterLastSeen: lastSeen,
    packets: counter(registry, 'netflow_packets_total', 'Flow export datagrams decoded, by version', ['version']),
    records: counter(registry, 'netflow_records_total', 'Flow records decoded, by version', ['version']),
    templatesReceived: counter(registry, 'netflow_templates_received_total', 'Templates received (refreshes included)', [
      'kind',
    ]),
    templatesExpired: counter(registry, 'netflow_templates_expired_total', 'Templates dropped after the template timeout'),
    templateEvents: counter(registry, 'netflow_template_events_total', 'Template withdrawals, evictions and layout changes', [
      'event',
    ]),
    decodeErrors: counter(registry, 'netflow_decode_errors_total', 'Datagrams, sets or records rejected, by reason', [
      'reason',
    ]),
    waitedSets: counter(registry, 'netflow_waited_sets_decoded_total', 'Data sets decoded after waiting for their template'),
    socketDrops: gauge(registry, 'netflow_socket_drops', 'Datagrams the kernel dropped on the socket (/proc/net/udp drops)', [
      'listen',
    ]),
    receiveBuffer: gauge(registry, 'netflow_receive_buffer_bytes', 'Receive buffer the kernel granted per socket', ['listen']),
    droppedRecords: counter(registry, 'netflow_records_dropped_total', 'Decoded records dropped before the pipeline, by reason', [
      'reason',
    ]),
  };
}
export type NetflowMetrics = ReturnType<typeof netflowMetrics>;

const VERSIONS: readonly FlowVersion[] = ['v5', 'v9', 'ipfix'];

/** Moves a decoder's counters into prom-client as deltas since the last call. */
export class StatsSync {
  private last = snapshot(undefined);

  constructor(
    private readonly decoder: NetflowDecoder,
    private readonly source: SourceMetrics,
    private readonly labels: { source: string; id: string },
    private readonly netflow?: NetflowMetrics,
  ) {}

  /** `inputBytes`: bytes read since the previous call (datagram payloads). */
  sync(inputBytes = 0): void {
    const now = snapshot(this.decoder);
    const before = this.last;
    this.last = now;
    if (inputBytes > 0) this.source.bytes.inc(this.labels, inputBytes);
    let records = 0;
    for (const v of VERSIONS) {
      const dr = now.records[v]! - before.records[v]!;
      records += dr;
      if (this.netflow) {
        const dp = now.packets[v]! - before.packets[v]!;
        if (dp > 0) this.netflow.packets.inc({ version: v }, dp);
        if (dr > 0) this.netflow.records.inc({ version: v }, dr);
      }
    }
    if (records > 0) this.source.records.inc(this.labels, records);
    for (const reason of NETFLOW_ANOMALIES) {
      const d = now.errors[reason]! - before.errors[reason]!;
      if (d <= 0) continue;
      this.source.errors.inc({ ...this.labels, reason }, d);
      this.netflow?.decodeErrors.inc({ reason }, d);
    }
    const m = this.netflow;
    if (!m) return;
    incBy(m.templatesReceived, { kind: 'data' }, now.templatesReceived - before.templatesReceived);
    incBy(m.templatesReceived, { kind: 'options' }, now.optionsTemplatesReceived - before.optionsTemplatesReceived);
    if (now.expired > before.expired) m.templatesExpired.inc(now.expired - before.expired);
    incBy(m.templateEvents, { event: 'withdrawn' }, now.withdrawn - before.withdrawn);
    incBy(m.templateEvents, { event: 'evicted' }, now.evicted - before.evicted);
    incBy(m.templateEvents, { event: 'changed' }, now.changed - before.changed);
    if (now.waited > before.waited) m.waitedSets.inc(now.waited - before.waited);
  }
}

function incBy<L extends string>(c: { inc(labels: Partial<Record<L, string>>, n: number): void }, labels: Partial<Record<L, string>>, n: number): void {
  if (n > 0) c.inc(labels, n);
}

function snapshot(decoder: NetflowDecoder | undefined) {
  const s = decoder?.stats;
  return {
    packets: { ...(s?.packets ?? { v5: 0, v9: 0, ipfix: 0 }) } as Record<string, number>,
    records: { ...(s?.records ?? { v5: 0, v9: 0, ipfix: 0 }) } as Record<string, number>,
    errors: { ...(s?.errors ?? Object.fromEntries(NETFLOW_ANOMALIES.map((r) => [r, 0]))) } as Record<string, number>,
    templatesReceived: s?.templatesReceived ?? 0,
    optionsTemplatesReceived: s?.optionsTemplatesReceived ?? 0,
    withdrawn: s?.templatesWithdrawn ?? 0,
    changed: s?.templatesChanged ?? 0,
    waited: s?.waitedSetsDecoded ?? 0,
    expired: decoder?.templates.expired ?? 0,
    evicted: decoder?.templates.evicted ?? 0,
  };
}

/**
 * Kernel drops for sockets bound to `port`, summed over /proc/net/udp and /proc/net/udp6
 * (the last column). Undefined where the platform has no such file.
 */
export function kernelDrops(port: number, procFiles: readonly string[] = ['/proc/net/udp', '/proc/net/udp6']): number | undefined {
  let found = false;
  let drops = 0;
  const portHex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of procFiles) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const cols = lines[i]!.trim().split(/\s+/);
      if (cols.length < 13 || !cols[1]!.endsWith(portHex)) continue;
      found = true;
      drops += Number(cols[cols.length - 1]) || 0;
    }
  }
  return found ? drops : undefined;
}
