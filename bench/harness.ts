// Benchmark harness: every bench prints figures as JSON lines, one per measurement.

export interface Figure {
  bench: string;
  /** What was measured, e.g. `records_per_s`, `peak_rss_mb`, `ratio_vs_ndpiReader`. */
  metric: string;
  value: number;
  unit?: string;
  note?: string;
}

export function report(figure: Figure): void {
  process.stdout.write(JSON.stringify(figure) + '\n');
}

/** Track peak RSS while `fn` runs (sampled every 20 ms plus before and after). */
export async function withPeakRss<T>(fn: () => Promise<T> | T): Promise<{ result: T; peakRssBytes: number; seconds: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const start = process.hrtime.bigint();
  try {
    const result = await fn();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peakRssBytes: peak, seconds };
  } finally {
    clearInterval(timer);
  }
}

export const MB = 1024 * 1024;
