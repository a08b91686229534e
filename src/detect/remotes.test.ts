import { describe, expect, it } from 'vitest';
import type { SwarmMember } from '../incidents/swarm.js';
import { RemoteTable } from './remotes.js';

const member = (): SwarmMember => ({ firstTs: 0, lastTs: 0, bytes: 0, objects: 0 });

describe('RemoteTable', () => {
  it('tallies each remote exactly: IPv4, IPv6 and host names, two addresses behind one name', () => {
    const t = new RemoteTable();
    const a = t.add('198.51.100.7', undefined, 100, 10, 512);
    t.add('2001:db8::1', undefined, 50, 5, 512);
    t.add('cdn.example.org', 'cdn.example.org', 30, 3, 512);
    t.add('203.0.113.1', 'mirror.example.net', 20, 2, 512);
    t.add('203.0.113.2', 'mirror.example.net', 25, 2, 512);
    expect(t.add('198.51.100.7', undefined, 1, 0, 512)).toBe(a);
    expect(t.size).toBe(5);
    expect(t.remoteBytesIn(a)).toBe(101);
    expect(t.top(10)).toEqual([
      { label: '198.51.100.7', bytes: 111 },
      { label: '2001:db8::1', bytes: 55 },
      { label: 'cdn.example.org', bytes: 33 },
      { label: 'mirror.example.net', bytes: 27 },
      { label: 'mirror.example.net', bytes: 22 },
    ]);
    expect(t.top(2).map((r) => r.label)).toEqual(['198.51.100.7', '2001:db8::1']);
  });

  it('lists the top remotes as a full sort by bytes then label would, equal ones in table order', () => {
    const t = new RemoteTable();
    const all: { label: string; bytes: number }[] = [];
    let seed = 11;
    const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
    for (let i = 0; i < 600; i++) {
      const peer = i % 5 === 0 ? `2001:db8::${i.toString(16)}` : `198.51.${i >> 8}.${i & 255}`;
      // Few distinct byte counts and shared names: many ties.
      const name = i % 7 === 0 ? `mirror${next() % 3}.example.net` : undefined;
      t.add(peer, name, (next() % 6) * 100, next() % 2, Infinity);
    }
    for (const r of t.top(1_000)) all.push(r);
    expect(all).toHaveLength(600);
    const sorted = [...all].sort((a, b) => b.bytes - a.bytes || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    expect(all).toEqual(sorted);
    for (const n of [1, 3, 10, 64]) expect(t.top(n)).toEqual(all.slice(0, n));
    expect(t.top(0)).toEqual([]);
  });

  it('stops taking new remotes at the cap but keeps counting known ones', () => {
    const t = new RemoteTable();
    for (let i = 0; i < 4; i++) expect(t.add(`192.0.2.${i}`, undefined, 1, 0, 4)).toBeGreaterThanOrEqual(0);
    expect(t.add('192.0.2.99', undefined, 1, 0, 4)).toBe(-1);
    const known = t.add('192.0.2.1', undefined, 5, 0, 4);
    expect(t.remoteBytesIn(known)).toBe(6);
  });

  it('keeps every remote through growth, and clear() empties it for the next window', () => {
    const t = new RemoteTable();
    const slots = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const peer = i % 3 === 0 ? `2001:db8::${i.toString(16)}` : `10.${i >> 8}.${i & 255}.1`;
      t.add(peer, undefined, i, 0, Infinity);
    }
    expect(t.size).toBe(3000);
    for (let i = 0; i < 3000; i += 97) {
      const peer = i % 3 === 0 ? `2001:db8::${i.toString(16)}` : `10.${i >> 8}.${i & 255}.1`;
      const slot = t.add(peer, undefined, 0, 0, Infinity);
      slots.set(peer, slot);
      expect(t.remoteBytesIn(slot)).toBe(i);
    }
    t.clear();
    expect(t.size).toBe(0);
    expect(t.top(5)).toEqual([]);
    const again = t.add('10.0.1.1', undefined, 7, 0, Infinity);
    expect(t.remoteBytesIn(again)).toBe(7);
  });

  it('marks heavy peers once', () => {
    const t = new RemoteTable();
    const s = t.add('192.0.2.1', undefined, 10, 0, 8);
    expect(t.isHeavy(s)).toBe(false);
    t.markHeavy(s);
    expect(t.isHeavy(s)).toBe(true);
    t.clear();
    expect(t.isHeavy(t.add('192.0.2.1', undefined, 10, 0, 8))).toBe(false);
  });

  it('tallies sources from the first call on, remotes seen before included: /24s and registrable domains', () => {
    const t = new RemoteTable();
    t.add('198.51.100.7', undefined, 100, 0, 512);
    t.add('198.51.100.9', undefined, 40, 0, 512);
    t.add('198.51.101.1', undefined, 1, 0, 512);
    t.add('203.0.113.5', 'a.dump.example.co.uk', 10, 0, 512);
    expect(t.tracksSources).toBe(false);
    const last = t.add('203.0.113.6', 'b.dump.example.co.uk', 5, 0, 512);
    const dump = t.countSource(last, 5);
    expect(t.tracksSources).toBe(true);
    expect(t.sourceBytesIn(dump)).toBe(15);
    const slash24 = t.countSource(t.add('198.51.100.200', undefined, 60, 0, 512), 60);
    expect(t.sourceBytesIn(slash24)).toBe(200);
    // An address given as the name stands for the same /24.
    const named = t.countSource(t.add('192.0.2.1', '198.51.100.3', 1, 0, 512), 1);
    expect(named).toBe(slash24);
    expect(t.sourceBytesIn(slash24)).toBe(201);
    const other = t.countSource(t.add('198.51.101.1', undefined, 0, 0, 512), 0);
    expect(other).not.toBe(slash24);
    expect(t.sourceBytesIn(other)).toBe(1);
    t.clear();
    expect(t.tracksSources).toBe(false);
  });

  it('round-trips through its snapshot form, swarm links re-attached to restored members', () => {
    const t = new RemoteTable();
    const m = member();
    for (let i = 0; i < 20; i++) t.add(`198.51.100.${i}`, undefined, 10 * MB, 0, 512);
    const named = t.add('203.0.113.5', 'files.example.org', 7, 1, 512);
    t.markHeavy(named);
    const source = t.countSource(t.add('198.51.100.1', undefined, 1, 0, 512), 1);
    t.link(source, { key: '198.51.100.0/24', member: m });
    const json = JSON.parse(JSON.stringify(t.toJSON())) as ReturnType<RemoteTable['toJSON']>;
    const back = RemoteTable.fromJSON(json, (key) => (key === '198.51.100.0/24' ? m : undefined));
    expect(back.top(30)).toEqual(t.top(30));
    expect(back.isHeavy(back.add('203.0.113.5', 'files.example.org', 0, 0, 512))).toBe(true);
    const restored = back.countSource(back.add('198.51.100.1', undefined, 0, 0, 512), 0);
    expect(back.sourceBytesIn(restored)).toBe(t.sourceBytesIn(source));
    expect(back.linkOf(restored)?.member).toBe(m);
  });
});

const MB = 1024 * 1024;
