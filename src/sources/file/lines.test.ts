import { describe, expect, it } from 'vitest';
import { LineRanges, LineSplitter } from './lines.js';

function splitAll(chunks: Buffer[], max?: number): { lines: string[]; tooLong: number } {
  const splitter = new LineSplitter(max);
  const lines: string[] = [];
  for (const c of chunks) splitter.feed(c, lines);
  splitter.end(lines);
  return { lines, tooLong: splitter.takeTooLong() };
}

function splitRanges(chunks: Buffer[], max?: number): { lines: string[]; tooLong: number } {
  const splitter = new LineSplitter(max);
  const ranges = new LineRanges();
  const lines: string[] = [];
  const collect = () => {
    if (ranges.joined) lines.push(ranges.joined.toString());
    for (let i = 0; i < ranges.count; i++) lines.push(ranges.buf.toString('utf8', ranges.starts[i], ranges.ends[i]));
  };
  for (const c of chunks) {
    splitter.feedRanges(c, ranges);
    collect();
  }
  splitter.endRanges(ranges);
  collect();
  return { lines, tooLong: splitter.takeTooLong() };
}

/** The plain definition the fast splitter must agree with. */
function reference(text: string): string[] {
  return text
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
    .filter((l) => l !== '');
}

describe('LineSplitter', () => {
  const text = 'alpha\r\nbeta\n\ngamma é ü 漢字 🎉\nlast line without newline';
  const bytes = Buffer.from(text);

  it('agrees with a plain split at every chunk boundary (including inside multi-byte characters)', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { lines } = splitAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(lines, `cut at ${cut}`).toEqual(reference(text));
    }
  });

  it('agrees with a plain split when fed one byte at a time', () => {
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    expect(splitAll(chunks).lines).toEqual(reference(text));
    expect(splitRanges(chunks).lines).toEqual(reference(text));
  });

  it('gives the same lines as byte ranges, at every chunk boundary', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { lines } = splitRanges([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(lines, `cut at ${cut}`).toEqual(reference(text));
    }
  });

  it('cuts big chunks into small strings without losing lines', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'z'.repeat(i % 70)}`);
    const big = Buffer.from(many.join('\r\n') + '\n');
    expect(splitAll([big]).lines).toEqual(many);
    expect(splitRanges([big.subarray(0, 100_000), big.subarray(100_000)]).lines).toEqual(many);
  });

  it('drops an over-long line, counts it, and resumes at the next line', () => {
    const long = 'x'.repeat(100);
    const input = Buffer.from(`short\n${long}\nafter\n${long}`);
    for (const size of [7, 33, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
      for (const split of [splitAll, splitRanges]) {
        const { lines, tooLong } = split(chunks, 50);
        expect(lines, `chunks of ${size}`).toEqual(['short', 'after']);
        expect(tooLong).toBe(2);
      }
    }
  });

  it('decodes invalid UTF-8 as replacement characters instead of failing', () => {
    const { lines } = splitAll([Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a, 0xc3])]);
    expect(lines).toEqual(['a\uFFFD\uFFFDb', '\uFFFD']);
  });

  it('holds a partial line until its newline arrives', () => {
    const splitter = new LineSplitter();
    const lines: string[] = [];
    splitter.feed(Buffer.from('one\ntw'), lines);
    expect(lines).toEqual(['one']);
    expect(splitter.pendingBytes).toBe(2);
    splitter.feed(Buffer.from('o\n'), lines);
    expect(lines).toEqual(['one', 'two']);
    expect(splitter.pendingBytes).toBe(0);
  });
});
