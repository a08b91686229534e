import { describe, expect, it } from 'vitest';
import { parseIncidents } from './engine.js';

describe('parseIncidents', () => {
  it('keeps the last state per incident id, from incidents or change objects, and counts other lines', () => {
    const base = { kind: 'bittorrent', hosts: ['10.20.0.1'], first_seen: '2026-06-14T01:00:00.000Z', last_seen: '2026-06-14T02:00:00.000Z' };
    const text = [
      JSON.stringify({ id: 'a', status: 'open', ...base }),
      JSON.stringify({ change: 'updated', incident: { id: 'a', status: 'resolved', ...base, last_seen: '2026-06-14T03:00:00.000Z' } }),
      JSON.stringify({ id: 'b', ...base, kind: 'swarm', hosts: ['10.20.0.1', '10.20.0.2'] }),
      '{"level":40,"msg":"warning"}',
      'not json',
      '{"id": broken',
      '',
    ].join('\n');
    const { incidents, unparsed } = parseIncidents(text);
    expect(incidents.map((i) => i.id)).toEqual(['a', 'b']);
    expect(incidents[0]?.last_seen).toBe('2026-06-14T03:00:00.000Z');
    expect(unparsed).toBe(3);
  });
});
