import { describe, expect, it } from 'vitest';
import { SwarmIndex, noteSourceAddress, sourceKey, type SwarmContext, type SwarmRule } from './swarm.js';

const T0 = Date.UTC(2026, 5, 11, 9);
const HOUR = 3_600_000;
const rule: SwarmRule = {
  id: 'swarm.correlation',
  rev: 1,
  min_score: 20,
  min_hosts: 2,
  min_bytes_per_host: 100,
  min_shared_objects: 3,
  min_shared_peers: 2,
  source_requires_incident: true,
  signals: { hosts: { threshold: 2, saturate: 50, weight: 0.6 }, bytes_in: { threshold: 1, saturate: 1e12, weight: 0.2 }, shared_keys: { threshold: 1, saturate: 100, weight: 0.2 } },
};

function context(withIncident: Set<string>): SwarmContext {
  return {
    longMs: 24 * HOUR,
    hasBulkIncident: (h) => withIncident.has(h),
    usersOf: (h) => (h === '10.0.0.1' ? ['alice'] : []),
    score: (f) => ({ score: Math.min(100, f.hosts! * 20), signals: [{ name: 'hosts', value: f.hosts!, threshold: 2, weight: 0.6 }], rule: 'swarm.correlation@1' }),
  };
}

describe('swarm index', () => {
  it('groups hosts by info hash within the long window', () => {
    const s = new SwarmIndex(100);
    s.noteInfoHash('aa'.repeat(20), '10.0.0.2', T0, 10);
    s.noteInfoHash('aa'.repeat(20), '10.0.0.1', T0 + HOUR, 10);
    s.noteInfoHash('bb'.repeat(20), '10.0.0.3', T0, 10);
    const found = s.evaluate(T0 + 2 * HOUR, rule, context(new Set()));
    expect(found).toHaveLength(1);
    expect(found[0]!.key).toBe(`ih:${'aa'.repeat(20)}`);
    expect(found[0]!.hosts).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(found[0]!.users).toEqual(['alice']);
    // A day later the first host has aged out: no swarm any more.
    expect(s.evaluate(T0 + 24 * HOUR + HOUR / 2, rule, context(new Set()))).toEqual([]);
  });

  it('counts a shared source only for hosts that pulled enough and have an incident of their own', () => {
    const s = new SwarmIndex(100);
    for (const h of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) s.sourceMember('example.org', h, T0).bytes += 500;
    expect(s.evaluate(T0, rule, context(new Set(['10.0.0.1'])))).toEqual([]);
    const found = s.evaluate(T0, rule, context(new Set(['10.0.0.1', '10.0.0.3'])));
    expect(found[0]!.hosts).toEqual(['10.0.0.1', '10.0.0.3']);
    expect(found[0]!.remotes).toEqual([{ label: 'example.org', bytes: 1000 }]);
    const shared = new SwarmIndex(100);
    for (let i = 0; i < 3; i++) shared.noteSharedObject('media.example', ['10.0.0.5', '10.0.0.6'], T0 + i);
    expect(shared.evaluate(T0 + 10, { ...rule, source_requires_incident: false }, context(new Set()))[0]!.hosts).toEqual(['10.0.0.5', '10.0.0.6']);
  });

  it('splits a /24 source into the hosts that share addresses: unrelated sites on one /24 are no swarm', () => {
    const s = new SwarmIndex(100);
    const v4 = (last: number) => (198 * 2 ** 24 + 18 * 2 ** 16 + 80 * 2 ** 8 + last);
    const pull = (host: string, ...lasts: number[]) => {
      const m = s.sourceMember('198.18.80.0/24', host, T0);
      m.bytes += 500;
      for (const l of lasts) noteSourceAddress(m, v4(l));
    };
    // Three sites on one /24, one host each: nothing shared.
    pull('10.0.0.1', 10, 11);
    pull('10.0.0.2', 20);
    pull('10.0.0.3', 30, 31);
    const all = new Set(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    expect(s.evaluate(T0, rule, context(all))).toEqual([]);
    // A host on the first site's other address, and one bridging two sites' addresses.
    pull('10.0.0.4', 11);
    pull('10.0.0.5', 20);
    pull('10.0.0.6', 31, 10);
    const found = s.evaluate(T0, rule, context(all));
    expect(found.map((f) => [f.key, f.hosts])).toEqual([
      ['src:198.18.80.0/24@198.18.80.10', ['10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.6']],
      ['src:198.18.80.0/24@198.18.80.20', ['10.0.0.2', '10.0.0.5']],
    ]);
    // Named sources are not split.
    const named = new SwarmIndex(100);
    for (const h of ['10.0.0.1', '10.0.0.2']) named.sourceMember('example.org', h, T0).bytes += 500;
    expect(named.evaluate(T0, rule, context(all)).map((f) => f.key)).toEqual(['src:example.org']);
  });

  it('links flow-only BitTorrent hosts by the peers they share into one group', () => {
    const s = new SwarmIndex(100);
    s.minSharedPeers = 2;
    for (let p = 0; p < 5; p++) {
      s.notePeer(`203.0.113.${p}`, '10.0.0.1', T0 + p, 100);
      s.notePeer(`203.0.113.${p}`, '10.0.0.2', T0 + p, 100);
    }
    // A third host shares peers with the second only: it joins the same group.
    for (let p = 3; p < 6; p++) s.notePeer(`203.0.113.${p}`, '10.0.0.3', T0 + p, 100);
    // A fourth host's peers are its own.
    for (let p = 10; p < 20; p++) s.notePeer(`203.0.113.${p}`, '10.0.0.4', T0 + p, 100);
    const found = s.evaluate(T0 + 100, rule, context(new Set()));
    expect(found).toHaveLength(1);
    expect(found[0]!.key).toBe('p2p:203.0.113.1'); // the peer that completed the first link
    expect(found[0]!.hosts).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('stays bounded and names sources by registrable domain', () => {
    const s = new SwarmIndex(10);
    for (let i = 0; i < 100; i++) s.noteInfoHash(String(i).padStart(40, '0'), '10.0.0.1', T0, 1);
    expect(s.size).toBe(10);
    expect(sourceKey('cdn7.files.example.co.uk')).toBe('example.co.uk');
    expect(sourceKey('a.b.example.com')).toBe('example.com');
    expect(sourceKey('203.0.113.9')).toBe('203.0.113.0/24');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8::1');
  });
});
