// Byte chunks to text lines, fast: find the last newline with Buffer.lastIndexOf, decode the
// whole run of complete lines as one string, then cut it with String.indexOf. The bytes after
// the last newline wait for the next chunk (a partial line, or a multi-byte character cut in two).

/** Lines longer than this are dropped and counted as `line_too_long`. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

const NEWLINE = 10;
const CR = 13;

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Inside an over-long line: drop bytes until its newline. */
  private skipping = false;
  /** Over-long lines dropped since the last `takeTooLong()`. */
  private tooLong = 0;

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

  /** Append the complete lines of `chunk` (CR LF and LF, without terminator) to `lines`. */
  feed(chunk: Buffer, lines: string[]): void {
    let start = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) return;
      this.skipping = false;
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NEWLINE);
    if (last < start) {
      this.hold(chunk.subarray(start));
      return;
    }
    let text: string;
    if (this.carryBytes > 0) {
      this.carry.push(chunk.subarray(start, last));
      text = Buffer.concat(this.carry).toString('utf8');
      this.carry = [];
      this.carryBytes = 0;
    } else {
      text = chunk.toString('utf8', start, last);
    }
    this.cut(text, lines);
    if (last + 1 < chunk.length) this.hold(chunk.subarray(last + 1));
  }

  /** End of input: the final line without a newline, if any. */
  end(lines: string[]): void {
    if (this.carryBytes > 0) {
      const text = Buffer.concat(this.carry).toString('utf8');
      this.carry = [];
      this.carryBytes = 0;
      this.cut(text, lines);
    }
    this.skipping = false;
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

  private cut(text: string, lines: string[]): void {
    const max = this.maxLineBytes;
    let pos = 0;
    const n = text.length;
    while (pos <= n) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = n;
      let end = nl;
      if (end > pos && text.charCodeAt(end - 1) === CR) end--;
      if (end > pos) {
        // Characters, not bytes: a line of multi-byte text may pass up to 3x the byte cap.
        if (end - pos > max) this.tooLong++;
        else lines.push(text.slice(pos, end));
      }
      pos = nl + 1;
    }
  }
}
