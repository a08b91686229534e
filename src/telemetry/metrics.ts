import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// One metric vocabulary for every component, prefix `egressd_`, the component's identity as
// labels. Never a per-IP label.

export const METRIC_PREFIX = 'egressd_';

export function createRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/** A counter registered once per registry; later calls with the same name return the same one. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  const full = METRIC_PREFIX + name;
  return (
    existing<Counter<L>>(registry, full) ??
    new Counter<L>({ name: full, help, labelNames: [...labelNames], registers: [registry] })
  );
}

export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  collect?: (this: Gauge<L>) => void,
): Gauge<L> {
  const full = METRIC_PREFIX + name;
  const found = existing<Gauge<L>>(registry, full);
  if (found) return found;
  return new Gauge<L>({
    name: full,
    help,
    labelNames: [...labelNames],
    registers: [registry],
    ...(collect ? { collect } : {}),
  });
}

export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets?: number[],
): Histogram<L> {
  const full = METRIC_PREFIX + name;
  return (
    existing<Histogram<L>>(registry, full) ??
    new Histogram<L>({
      name: full,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      ...(buckets ? { buckets } : {}),
    })
  );
}

/** The counters every source shares: records, bytes and errors by reason. */
export function sourceMetrics(registry: Registry) {
  return {
    records: counter(registry, 'source_records_total', 'Records produced by a source', ['source', 'id']),
    bytes: counter(registry, 'source_bytes_total', 'Input bytes read by a source', ['source', 'id']),
    errors: counter(registry, 'source_errors_total', 'Input rejected by a source or decoder, by reason', [
      'source',
      'id',
      'reason',
    ]),
    lag: gauge(registry, 'source_lag_seconds', 'Wall clock minus event time of the newest record', ['source', 'id']),
  };
}
export type SourceMetrics = ReturnType<typeof sourceMetrics>;
