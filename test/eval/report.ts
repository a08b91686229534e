import type { KindScore, QualityBar, Score } from './score.js';

// A readable table per corpus format, engine next to the naive baseline.

function pct(v: number | null): string {
  return v === null ? '-' : `${(v * 100).toFixed(1)}%`;
}

function minutes(v: number | null): string {
  return v === null ? '-' : v < 1 ? '<1m' : v < 120 ? `${v.toFixed(0)}m` : `${(v / 60).toFixed(1)}h`;
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

const HEADER = ['detector / kind', 'labelled', 'detected', 'wrong kind', 'recall', 'incidents', 'precision', 'false', 'latency p50', 'p90'];
const WIDTHS = [28, 8, 8, 10, 7, 9, 9, 6, 11, 6];

function kindRow(name: string, k: KindScore): string {
  return row(
    [
      name,
      String(k.labelled),
      String(k.detected),
      String(k.wrongKind),
      pct(k.recall),
      String(k.incidents),
      pct(k.precision),
      String(k.falseIncidents),
      minutes(k.latency.medianMinutes),
      minutes(k.latency.p90Minutes),
    ],
    WIDTHS,
  );
}

export function scoreTable(title: string, detectors: { name: string; score: Score; bar?: QualityBar }[]): string {
  const lines = [title, row(HEADER, WIDTHS), '-'.repeat(WIDTHS.reduce((a, b) => a + b + 2, -2))];
  for (const d of detectors) {
    const s = d.score;
    lines.push(kindRow(`${d.name} bittorrent hosts`, s.kinds.bittorrent));
    lines.push(kindRow(`${d.name} bulk hosts`, s.kinds.bulk_acquisition));
    lines.push(kindRow(`${d.name} swarms`, s.kinds.swarm));
    const techniques = Object.entries(s.techniques)
      .map(([t, v]) => `${t} ${v.detected}/${v.labelled}` + (v.latency.count ? ` (latency p50 ${minutes(v.latency.medianMinutes)}, p90 ${minutes(v.latency.p90Minutes)})` : ''))
      .join(', ');
    lines.push(
      `  ${d.name}: ${s.incidents} incidents, ${s.falseIncidents} false` +
        (s.falseOnLabelledHosts ? ` (${s.falseOnLabelledHosts} on labelled hosts outside their activity)` : '') +
        ` = ${s.falsePer1000BenignHostDays.toFixed(2)} per 1,000 benign host-days ` +
        `(${s.benignHostDays} benign host-days); benign hosts named: ${s.benignHostsFlagged.length}; swarm members named: ${pct(s.swarmMemberCoverage)}`,
    );
    lines.push(`  ${d.name} recall by technique: ${techniques}`);
    const missed = [...s.kinds.bittorrent.missed, ...s.kinds.bulk_acquisition.missed, ...s.kinds.swarm.missed];
    if (missed.length) lines.push(`  ${d.name} missed: ${missed.slice(0, 12).join(' ')}${missed.length > 12 ? ' …' : ''}`);
    if (d.bar) {
      const mark = (ok: boolean): string => (ok ? 'ok' : 'FAIL');
      lines.push(
        `  quality bar: BitTorrent recall 100% ${mark(d.bar.bittorrentRecall)}, swarm recall 100% ${mark(d.bar.swarmRecall)}, ` +
          `bulk recall ≥95% ${mark(d.bar.bulkRecall)}, ≤1 false/1,000 benign host-days ${mark(d.bar.falseRate)} → ${d.bar.pass ? 'PASS' : 'FAIL'}`,
      );
    }
  }
  return lines.join('\n');
}

/** The compact per-detector figures of the JSON summary line. */
export function scoreSummary(s: Score): Record<string, unknown> {
  const k = (x: KindScore): Record<string, unknown> => ({
    labelled: x.labelled,
    detected: x.detected,
    wrong_kind: x.wrongKind,
    recall: x.recall,
    incidents: x.incidents,
    precision: x.precision,
    false_incidents: x.falseIncidents,
    latency_p50_min: x.latency.medianMinutes,
    latency_p90_min: x.latency.p90Minutes,
    missed: x.missed,
  });
  return {
    bittorrent: k(s.kinds.bittorrent),
    bulk_acquisition: k(s.kinds.bulk_acquisition),
    swarm: k(s.kinds.swarm),
    techniques: s.techniques,
    swarm_member_coverage: s.swarmMemberCoverage,
    incidents: s.incidents,
    false_incidents: s.falseIncidents,
    false_on_labelled_hosts: s.falseOnLabelledHosts,
    benign_host_days: s.benignHostDays,
    false_per_1000_benign_host_days: Math.round(s.falsePer1000BenignHostDays * 100) / 100,
    benign_hosts_flagged: s.benignHostsFlagged.length,
  };
}
