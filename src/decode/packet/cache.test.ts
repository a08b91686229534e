import { describe, expect, it } from 'vitest';
import { ByteStringMemo } from './cache.js';

describe('ByteStringMemo', () => {
  it('derives once per byte string while it keeps its slot, and anew after another took the slot', () => {
    const derived: string[] = [];
    const memo = new ByteStringMemo((text, bytes, at, end) => {
      derived.push(text);
      return `${text}:${bytes.subarray(at, end).toString('hex')}`;
    }, false, 2);
    const bytes = Buffer.from('xxpeer-A-peer-Bpeer-A', 'latin1');
    expect(memo.get(bytes, 2, 8)).toBe('peer-A:706565722d41');
    expect(memo.get(bytes, 15, 21)).toBe('peer-A:706565722d41');
    expect(derived).toEqual(['peer-A']);
    // Four slots: many strings evict one another, and every answer stays right.
    const names = Array.from({ length: 40 }, (_, i) => `id-${i}`);
    for (const round of [0, 1]) for (const name of names) expect(memo.get(Buffer.from(name, 'latin1'), 0, name.length), `${name} ${round}`).toBe(`${name}:${Buffer.from(name).toString('hex')}`);
    expect(derived.length).toBeGreaterThan(names.length);
    // Bytes differing in case are other strings.
    expect(memo.get(Buffer.from('PEER-A', 'latin1'), 0, 6)).toBe('PEER-A:504545522d41');
  });

  it('with case folding, matches ASCII letters in either case and gives the lower-cased text', () => {
    const derived: string[] = [];
    const memo = new ByteStringMemo((text) => {
      derived.push(text);
      return text;
    }, true);
    const get = (s: string) => memo.get(Buffer.from(s, 'latin1'), 0, Buffer.byteLength(s, 'latin1'));
    expect(get('CDN.Example.COM')).toBe('cdn.example.com');
    expect(get('cdn.example.com')).toBe('cdn.example.com');
    expect(get('cdn.example.con')).toBe('cdn.example.con');
    expect(derived).toEqual(['cdn.example.com', 'cdn.example.con']);
    // Past ASCII, toLowerCase decides every time.
    expect(get('ÀB.example')).toBe('àb.example');
    expect(get('ÀB.example')).toBe('àb.example');
    expect(derived.filter((t) => t === 'àb.example')).toHaveLength(2);
  });
});
