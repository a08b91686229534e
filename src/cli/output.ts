import type { Incident } from '../incidents/types.js';

/** A fixed-width incidents table for people (replay `--table`). */
export function incidentsTable(incidents: readonly Incident[]): string {
  if (incidents.length === 0) return 'no incidents\n';
  const rows = incidents.map((i) => [
    i.severity,
    String(i.score),
    i.kind,
    i.status,
    i.hosts.length > 3 ? `${i.hosts.slice(0, 3).join(',')} +${i.hosts.length - 3}` : i.hosts.join(','),
    i.first_seen.replace('T', ' ').slice(0, 19),
    i.last_seen.replace('T', ' ').slice(0, 19),
    humanBytes(i.evidence.bytes_in),
    String(i.evidence.peers),
    i.approved_source ?? '-',
    i.rule,
  ]);
  const header = ['SEVERITY', 'SCORE', 'KIND', 'STATUS', 'HOSTS', 'FIRST SEEN (UTC)', 'LAST SEEN (UTC)', 'BYTES IN', 'PEERS', 'APPROVAL', 'RULE'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + `\n${incidents.length} incident(s)\n`;
}

export function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Final state of each incident, in first-seen order (stable for golden files). */
export function sortIncidents(incidents: Iterable<Incident>): Incident[] {
  return [...incidents].sort((a, b) => byCodeUnits(a.first_seen, b.first_seen) || byCodeUnits(a.id, b.id));
}

/**
 * `first_seen` is ISO 8601 in UTC and ids are hex, so code-unit order is time order, then id.
 * `localeCompare` orders them the same but its first call loads ICU's collator: 8–19 ms at the
 * end of every replay.
 */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
