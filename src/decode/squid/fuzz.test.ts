import { describe, expect, test } from 'vitest';
import { DecodeError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import { PREDEFINED_FORMATS, createSquidDecoder } from './index.js';
import { seededRandom } from '../../../test/support/random.js';

// Random and mutated lines: the decoder either returns records or throws a DecodeError with a
// reason; nothing else escapes, and every line is accounted for.


const SEEDS: Record<string, string[]> = {
  squid: [
    '1700000000.123    250 10.20.0.7 TCP_MISS/200 1048576 GET http://cdn.example.net/videos/show-0042.mkv alice HIER_DIRECT/198.51.100.7 video/x-matroska',
    '1700000001.000     80 2001:db8::7 TCP_MISS/200 5120 GET http://t.example.org/announce?info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A&peer_id=-TR3000-abcdefghijkl - HIER_DIRECT/203.0.113.9 text/plain',
    '1700000002.500   1200 10.20.0.8 TCP_TUNNEL/200 88211 CONNECT files.example.com:443 bob HIER_DIRECT/198.51.100.20 -',
  ],
  common: ['10.20.0.7 - alice [10/Jun/2024:08:13:20 +0000] "GET http://cdn.example.net/a/part-001.zip HTTP/1.1" 200 734003200 TCP_MISS:HIER_DIRECT'],
  combined: [
    '10.20.0.7 - - [10/Jun/2024:08:13:20 +0000] "GET http://x.example.org/go?m=magnet%3A%3Fxt%3Durn%3Abtih%3AMFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U HTTP/1.1" 200 120 "-" "Transmission/3.00" TCP_MISS:HIER_DIRECT',
  ],
  [PREDEFINED_FORMATS.squid!.replace('%rm %ru', '%rm %"ru').concat(' "%{User-Agent}>h" %tl')]: [
    '1700000000.123 250 10.20.0.7 TCP_MISS/200 10 GET "http://a.example.com/x?q=\\"1\\"" alice HIER_DIRECT/198.51.100.7 text/html "uTorrent/3.5" 10/Jun/2024:08:13:20 +0000',
  ],
};

const ALPHABET = ' \t"[]/:.%-0123456789abcdefABCDEF?&=\\\u0000\u00ff\ufffdµ';

function mutate(line: string, rnd: () => number): string {
  let s = line;
  const edits = 1 + Math.floor(rnd() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const op = rnd();
    if (op < 0.3) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 10));
    else if (op < 0.6) s = s.slice(0, at) + ALPHABET[Math.floor(rnd() * ALPHABET.length)]! + s.slice(at);
    else if (op < 0.8) s = s.slice(0, at) + s.slice(Math.floor(rnd() * s.length), Math.floor(rnd() * s.length)) + s.slice(at);
    else s = s.slice(0, at) + ALPHABET[Math.floor(rnd() * ALPHABET.length)]! + s.slice(at + 1);
  }
  return s;
}

function randomLine(rnd: () => number): string {
  let s = '';
  const n = Math.floor(rnd() * 300);
  for (let i = 0; i < n; i++) s += rnd() < 0.8 ? ALPHABET[Math.floor(rnd() * ALPHABET.length)]! : String.fromCharCode(Math.floor(rnd() * 0x3000));
  return s;
}

describe('squid decoder fuzz', () => {
  for (const [format, seeds] of Object.entries(SEEDS)) {
    test(`mutated and random lines never throw anything but a DecodeError (${format.slice(0, 24)})`, () => {
      const rnd = seededRandom(0x5eed + format.length);
      const decoder = createSquidDecoder('fuzz', { logformat: format, max_line_length: 4096 });
      const out: FlowRecord[] = [];
      const reasons = new Map<string, number>();
      const total = 20_000;
      for (let i = 0; i < total; i++) {
        const line = i % 5 === 0 ? randomLine(rnd) : mutate(seeds[i % seeds.length]!, rnd);
        try {
          decoder.decodeLine(line, out);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw new Error(`non-decode error for ${JSON.stringify(line)}: ${String(err)}`);
          reasons.set(err.reason, (reasons.get(err.reason) ?? 0) + 1);
        }
      }
      const errors = [...reasons.values()].reduce((a, b) => a + b, 0);
      expect(out.length + errors).toBe(total);
      // Mutations keep many lines valid and break many others: both paths ran.
      expect(out.length).toBeGreaterThan(total / 20);
      expect(errors).toBeGreaterThan(total / 10);
      for (const r of out) {
        expect(Number.isFinite(r.ts) && Number.isFinite(r.tsEnd)).toBe(true);
        expect(r.bytesIn).toBeGreaterThanOrEqual(0);
        expect(r.src.length).toBeGreaterThan(0);
        if (r.app?.infoHash) expect(r.app.infoHash).toMatch(/^[0-9a-f]{40}$/);
      }
    });
  }
});
