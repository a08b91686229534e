import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openedTimes, parseIncidents } from './engine.js';

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

describe('openedTimes', () => {
  it('reads the event time of each opened entry from the journal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'egressd-eval-journal-'));
    try {
      mkdirSync(join(dir, 'journal'));
      const entry = (seq: number, change: string, id: string, lastSeen: string): string =>
        JSON.stringify({ seq, at: 'x', type: 'incident', change, incident: { id, last_seen: lastSeen }, prev: '0', hash: '0' });
      writeFileSync(
        join(dir, 'journal', 'journal-000001.ndjson'),
        [entry(1, 'opened', 'a', '2026-06-14T10:00:00.000Z'), entry(2, 'updated', 'a', '2026-06-14T11:00:00.000Z'), ''].join('\n'),
      );
      writeFileSync(join(dir, 'journal', 'journal-000002.ndjson'), [entry(3, 'opened', 'b', '2026-06-15T01:00:00.000Z'), '{"torn'].join('\n'));
      expect([...openedTimes(dir)]).toEqual([
        ['a', '2026-06-14T10:00:00.000Z'],
        ['b', '2026-06-15T01:00:00.000Z'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
