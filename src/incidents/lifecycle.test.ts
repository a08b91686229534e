import { describe, expect, it } from 'vitest';
import { IncidentBook, incidentId, type Finding } from './lifecycle.js';

const T0 = Date.UTC(2026, 5, 11, 9);
const MIN = 60_000;

function book() {
  return new IncidentBook({
    quietPeriodMs: 30 * MIN,
    updateGrowth: 0.5,
    updateScoreDelta: 5,
    updateIntervalMs: 60 * MIN,
    topRemotes: 3,
    idWindowMs: MIN,
    severity: (s) => (s >= 65 ? 'high' : s >= 40 ? 'medium' : 'low'),
  });
}

function finding(over: Partial<Finding> = {}): Finding {
  return {
    kind: 'bulk_acquisition',
    key: '10.0.0.1',
    rule: 'bulk.acquisition@1',
    hosts: ['10.0.0.1'],
    score: 30,
    signals: [{ name: 'bytes_in_1h', value: 5e9, threshold: 4e9, weight: 0.15 }],
    episodeStart: T0,
    activityTs: T0 + MIN,
    bytesIn: 1000,
    bytesOut: 10,
    totalIn: 1000,
    totalOut: 10,
    peers: 5,
    infoHashes: [],
    remotes: [{ label: 'a.example', bytes: 900 }],
    users: [],
    approvedSource: null,
    ...over,
  };
}

describe('incident lifecycle', () => {
  it('opens once, grows evidence silently, emits updates only for material changes', () => {
    const b = book();
    const opened = b.apply(finding())!;
    expect(opened.change).toBe('opened');
    expect(opened.incident.id).toBe(incidentId('bulk_acquisition', '10.0.0.1', Math.floor(T0 / MIN)));
    expect(opened.incident.version).toBe(1);
    expect(opened.incident.severity).toBe('low');
    // Same activity a minute later with a bit more bytes: no new change.
    expect(b.apply(finding({ activityTs: T0 + 2 * MIN, totalIn: 1100 }))).toBeUndefined();
    // Bytes doubled: an update, evidence counts the growth since open.
    const grown = b.apply(finding({ activityTs: T0 + 3 * MIN, totalIn: 3000 }))!;
    expect(grown.change).toBe('updated');
    expect(grown.incident.version).toBe(2);
    expect(grown.incident.evidence.bytes_in).toBe(3000);
    // Score rises into another band: an update with the new explanation.
    const rose = b.apply(finding({ activityTs: T0 + 4 * MIN, totalIn: 3000, score: 70, rule: 'bulk.acquisition@1', remotes: [{ label: 'b.example', bytes: 5000 }] }))!;
    expect(rose.incident.severity).toBe('high');
    expect(rose.incident.evidence.remotes).toEqual(['b.example', 'a.example']);
    expect(rose.incident.id).toBe(opened.incident.id);
    expect(b.openCount).toBe(1);
  });

  it('resolves after the quiet period of event time and never re-alerts the same activity', () => {
    const b = book();
    b.apply(finding());
    expect(b.sweep(T0 + 20 * MIN)).toEqual([]);
    const resolved = b.sweep(T0 + 31 * MIN);
    expect(resolved.map((c) => [c.change, c.incident.status, c.incident.version])).toEqual([['resolved', 'resolved', 2]]);
    // A long window still holding the old activity does not reopen it.
    expect(b.apply(finding({ activityTs: T0 + MIN }))).toBeUndefined();
    // New activity is a new incident with a new id.
    const again = b.apply(finding({ episodeStart: T0 + 2 * 60 * MIN, activityTs: T0 + 2 * 60 * MIN }))!;
    expect(again.change).toBe('opened');
    expect(again.incident.id).not.toBe(resolved[0]!.incident.id);
  });

  it('restores open incidents and resolution markers from its JSON form', () => {
    const a = book();
    a.apply(finding());
    a.apply(finding({ key: '10.0.0.2', hosts: ['10.0.0.2'] }));
    a.sweep(T0 + 31 * MIN);
    a.apply(finding({ key: '10.0.0.3', hosts: ['10.0.0.3'], activityTs: T0 + 40 * MIN }));
    const b = book();
    b.restore(JSON.parse(JSON.stringify(a.toJSON())));
    expect(b.openCount).toBe(1);
    expect(b.hasOpen('bulk_acquisition', '10.0.0.3')).toBe(true);
    expect(b.apply(finding({ key: '10.0.0.2', hosts: ['10.0.0.2'] }))).toBeUndefined();
    expect(b.apply(finding({ key: '10.0.0.3', hosts: ['10.0.0.3'], activityTs: T0 + 41 * MIN }))).toBeUndefined();
  });

  it('lists the top remotes by bytes, ties by label, among more remotes than it keeps', () => {
    const b = book();
    const remotes = [
      { label: 'd.example', bytes: 50 },
      { label: 'c.example', bytes: 700 },
      { label: 'b.example', bytes: 700 },
      { label: 'a.example', bytes: 10 },
      { label: 'e.example', bytes: 900 },
    ];
    const opened = b.apply(finding({ remotes }))!;
    expect(opened.incident.evidence.remotes).toEqual(['e.example', 'b.example', 'c.example']);
    // Bytes merge as the largest seen per remote; the top list follows.
    const updated = b.apply(finding({ activityTs: T0 + 2 * MIN, totalIn: 5000, remotes: [{ label: 'a.example', bytes: 800 }] }))!;
    expect(updated.incident.evidence.remotes).toEqual(['e.example', 'a.example', 'b.example']);
  });

  it('hands out copies: later updates do not change an incident already emitted', () => {
    const b = book();
    const opened = b.apply(finding({ users: ['alice'] }))!;
    const before = JSON.stringify(opened.incident);
    const updated = b.apply(finding({ activityTs: T0 + 3 * MIN, totalIn: 3000, users: ['bob'], hosts: ['10.0.0.1', '10.0.0.9'] }))!;
    expect(JSON.stringify(opened.incident)).toBe(before);
    expect(updated.incident.evidence.users).toEqual(['alice', 'bob']);
    expect(updated.incident.last_seen).toBe(new Date(T0 + 3 * MIN).toISOString());
    // Key order is the incident's own, so JSON lines stay as they were.
    expect(Object.keys(updated.incident)).toEqual(Object.keys(opened.incident));
    const resolved = b.sweep(T0 + 40 * MIN)[0]!;
    expect(updated.incident.status).toBe('open');
    expect(resolved.incident.status).toBe('resolved');
  });

  it('keeps last_seen at the latest activity when a finding reports older activity', () => {
    const b = book();
    b.apply(finding({ activityTs: T0 + 5 * MIN }));
    const later = b.apply(finding({ activityTs: T0 + 2 * MIN, totalIn: 9000 }))!;
    expect(later.incident.last_seen).toBe(new Date(T0 + 5 * MIN).toISOString());
  });

  it('answers hasOpen and activeSince by kind and key, through resolution and restore', () => {
    const b = book();
    b.apply(finding({ kind: 'swarm', key: 'src:example.com|x', hosts: ['10.0.0.1', '10.0.0.2'] }));
    expect(b.hasOpen('swarm', 'src:example.com|x')).toBe(true);
    expect(b.hasOpen('bulk_acquisition', 'src:example.com|x')).toBe(false);
    const restored = book();
    restored.restore(JSON.parse(JSON.stringify(b.toJSON())));
    expect(restored.hasOpen('swarm', 'src:example.com|x')).toBe(true);
    for (const k of [b, restored]) {
      k.sweep(T0 + 40 * MIN);
      expect(k.hasOpen('swarm', 'src:example.com|x')).toBe(false);
      expect(k.activeSince('swarm', 'src:example.com|x', T0)).toBe(true);
      expect(k.activeSince('swarm', 'src:example.com|x', T0 + 2 * MIN)).toBe(false);
    }
  });

  it('shows the latest activity as last_seen in open incidents and snapshots, also between emitted changes', () => {
    const b = book();
    b.apply(finding());
    // Not material: no change emitted, but the incident's last activity moved.
    expect(b.apply(finding({ activityTs: T0 + 2 * MIN, totalIn: 1100 }))).toBeUndefined();
    const latest = new Date(T0 + 2 * MIN).toISOString();
    expect(b.openIncidents()[0]!.last_seen).toBe(latest);
    const restored = book();
    restored.restore(JSON.parse(JSON.stringify(b.toJSON())));
    expect(restored.openIncidents()[0]!.last_seen).toBe(latest);
    expect(restored.sweep(T0 + 40 * MIN)[0]!.incident.last_seen).toBe(latest);
  });

  it('emits deep copies sharing no array or object with the incident the book keeps updating', () => {
    const b = book();
    b.apply(finding({ users: ['alice'], infoHashes: ['ab'.repeat(20)] }));
    const updated = b.apply(finding({ activityTs: T0 + 3 * MIN, totalIn: 3000, users: ['bob'], approvalExpired: 'old-mirror' }))!;
    const live = b.openIncidents()[0]!;
    expect(updated.incident).toEqual(live);
    expect(JSON.stringify(updated.incident)).toBe(JSON.stringify(live));
    const shared: string[] = [];
    const walk = (copy: unknown, original: unknown, path: string): void => {
      if (typeof copy !== 'object' || copy === null) return;
      if (copy === original) shared.push(path);
      for (const key of Object.keys(copy)) walk((copy as Record<string, unknown>)[key], (original as Record<string, unknown>)[key], `${path}.${key}`);
    };
    walk(updated.incident, live, 'incident');
    expect(shared).toEqual([]);
  });
});
