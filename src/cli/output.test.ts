import { describe, expect, it } from 'vitest';
import type { Incident } from '../incidents/types.js';
import { sortIncidents } from './output.js';

const at = (first_seen: string, id: string): Incident => ({ first_seen, id }) as Incident;

describe('sortIncidents', () => {
  it('orders by first_seen, then by id, as localeCompare would', () => {
    const incidents = [
      at('2026-06-11T10:00:00.000Z', 'b1'),
      at('2026-06-11T09:59:59.999Z', 'ff'),
      at('2026-06-11T10:00:00.000Z', '0a'),
      at('2025-12-31T23:59:59.000Z', 'c3'),
      at('2026-06-11T10:00:00.000Z', 'a0'),
    ];
    const sorted = sortIncidents(incidents).map((i) => `${i.first_seen} ${i.id}`);
    expect(sorted).toEqual(['2025-12-31T23:59:59.000Z c3', '2026-06-11T09:59:59.999Z ff', '2026-06-11T10:00:00.000Z 0a', '2026-06-11T10:00:00.000Z a0', '2026-06-11T10:00:00.000Z b1']);
    const byLocale = [...incidents].sort((a, b) => a.first_seen.localeCompare(b.first_seen) || a.id.localeCompare(b.id)).map((i) => `${i.first_seen} ${i.id}`);
    expect(sorted).toEqual(byLocale);
  });

  it('leaves its input as it was', () => {
    const incidents = [at('2026-06-11T10:00:00.000Z', 'b'), at('2026-06-11T09:00:00.000Z', 'a')];
    sortIncidents(incidents);
    expect(incidents.map((i) => i.id)).toEqual(['b', 'a']);
  });
});
