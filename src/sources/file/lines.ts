// Byte chunks to lines, fast: newline positions from Buffer.indexOf, then either byte ranges
// (for decoders that read bytes directly) or one string per line. Not one big string cut into
// lines: a slice keeps its parent alive (a kept URL would pin the whole block), and strings
// over ~128 KiB land in V8's large-object space, one mmap each, 20x slower to make.
// The bytes after the last newline wait for the next chunk (a partial line, or a multi-byte
// character cut in two).

import { isAscii } from 'node:buffer';

/** Lines longer than this are dropped and counted as `line_too_long`. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

const NEWLINE = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);

/** Complete lines of one chunk as byte ranges of `buf` (terminators excluded, blank lines skipped). */
export class LineRanges {
  buf: Buffer = EMPTY;
  /** A line begun in an earlier chunk and completed in this one; comes before the ranges. */
  joined: Buffer | undefined;
  starts = new Int32Array(1024);
  ends = new Int32Array(1024);
  count = 0;

  clear(buf: Buffer): void {
    this.buf = buf;
    this.joined = undefined;
    this.count = 0;
  }

  add(start: number, end: number): void {
    if (this.count === this.starts.length) {
      const starts = new Int32Array(this.count * 2);
      starts.set(this.starts);
      this.starts = starts;
      const ends = new Int32Array(this.count * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.starts[this.count] = start;
    this.ends[this.count++] = end;
  }
}

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Inside an over-long line: drop bytes until its newline. */
  private skipping = false;
  /** Over-long lines dropped since the last `takeTooLong()`. */
  private tooLong = 0;
  /** End of the last range checked by `rangeOf` (its CR removed). */
  private lastEnd = 0;
  private readonly scratch = new LineRanges();

  constructor(private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {}

  /** Bytes held back because their line has no newline yet. */
  get pendingBytes(): number {
    return this.carryBytes;
  }

  /** Number of over-long lines dropped since the last call. */
  takeTooLong(): number {
    const n = this.tooLong;
    this.tooLong = 0;
    return n;
  }

  /**
   * Append the complete lines of `chunk` (CR LF and LF, without terminator) to `lines`. Each
   * line is its own string, not a view into a bigger one: what a decoder keeps of a line (a
   * URL, a host name) then keeps at most that line alive.
   */
  feed(chunk: Buffer, lines: string[]): void {
    const ranges = this.scratch;
    this.feedRanges(chunk, ranges);
    this.rangesToText(ranges, lines);
  }

  /** The complete lines of `chunk` as byte ranges into `out` (cleared first). */
  feedRanges(chunk: Buffer, out: LineRanges): void {
    out.clear(chunk);
    let pos = 0;
    const n = chunk.length;
    if (this.skipping) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) return;
      this.skipping = false;
      pos = nl + 1;
    }
    if (this.carryBytes > 0) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl < 0) {
        this.hold(chunk.subarray(pos));
        return;
      }
      this.carry.push(chunk.subarray(pos, nl));
      const joined = Buffer.concat(this.carry);
      this.carry = [];
      this.carryBytes = 0;
      out.joined = this.rangeOf(joined, 0, joined.length) ? joined.subarray(0, this.lastEnd) : undefined;
      pos = nl + 1;
    }
    const max = this.maxLineBytes;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl < 0) break;
      let end = nl;
      if (end > pos && chunk[end - 1] === CR) end--;
      if (end > pos) {
        if (end - pos > max) this.tooLong++;
        else out.add(pos, end);
      }
      pos = nl + 1;
    }
    if (pos < n) this.hold(chunk.subarray(pos));
  }

  /** End of input in range form: the final line without a newline, as `out.joined`. */
  endRanges(out: LineRanges): void {
    out.clear(EMPTY);
    if (this.carryBytes > 0) {
      const joined = Buffer.concat(this.carry);
      this.carry = [];
      this.carryBytes = 0;
      if (this.rangeOf(joined, 0, joined.length)) out.joined = joined.subarray(0, this.lastEnd);
    }
    this.skipping = false;
  }

  /** Strip a CR; false for a blank or over-long line. The end is left in `lastEnd`. */
  private rangeOf(buf: Buffer, start: number, end: number): boolean {
    if (end > start && buf[end - 1] === CR) end--;
    this.lastEnd = end;
    if (end <= start) return false;
    if (end - start > this.maxLineBytes) {
      this.tooLong++;
      return false;
    }
    return true;
  }

  /** End of input: the final line without a newline, if any. */
  end(lines: string[]): void {
    const ranges = this.scratch;
    this.endRanges(ranges);
    this.rangesToText(ranges, lines);
  }

  /** Forget everything held (the file was truncated or replaced). */
  reset(): void {
    this.carry = [];
    this.carryBytes = 0;
    this.skipping = false;
  }

  private hold(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.carryBytes + bytes.length > this.maxLineBytes) {
      this.carry = [];
      this.carryBytes = 0;
      this.skipping = true;
      this.tooLong++;
      return;
    }
    // Copy: the caller may reuse its read buffer.
    this.carry.push(Buffer.from(bytes));
    this.carryBytes += bytes.length;
  }

  private rangesToText(ranges: LineRanges, lines: string[]): void {
    if (ranges.joined) lines.push(ranges.joined.toString('utf8'));
    const { buf, starts, ends, count } = ranges;
    // A chunk of plain ASCII (nearly every log) needs no UTF-8 decoding: latin1 gives the
    // same text, faster.
    const encoding = count > 0 && isAscii(buf) ? 'latin1' : 'utf8';
    for (let i = 0; i < count; i++) lines.push(buf.toString(encoding, starts[i], ends[i]));
    ranges.clear(EMPTY);
  }
}
