// Syslog over TCP (RFC 6587): each frame is either octet-counted (`LEN SP MSG`) or ends with a
// newline. The framer keeps at most one message's worth of bytes per connection.

export type FrameDrop = 'too_large' | 'truncated' | 'bad_frame';

const LF = 0x0a;
const SP = 0x20;

export class SyslogFramer {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of an oversized frame still to be thrown away (octet-counted). */
  private skipBytes = 0;
  /** Throwing away an oversized newline-framed message until its newline. */
  private skipToNewline = false;

  constructor(
    private readonly maxMessageSize: number,
    private readonly onMessage: (message: Buffer) => void,
    private readonly onDrop: (reason: FrameDrop) => void,
  ) {}

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): void {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = Buffer.alloc(0);
    let pos = 0;
    while (pos < data.length) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, data.length - pos);
        this.skipBytes -= n;
        pos += n;
        continue;
      }
      if (this.skipToNewline) {
        const nl = data.indexOf(LF, pos);
        if (nl < 0) {
          pos = data.length;
          break;
        }
        this.skipToNewline = false;
        pos = nl + 1;
        continue;
      }
      const first = data[pos]!;
      if (first === LF || first === 0x0d || first === 0) {
        pos++; // blank line or stray separator between frames
        continue;
      }
      if (first >= 0x31 && first <= 0x39) {
        // Octet counting: digits, a space, then exactly that many bytes.
        let i = pos;
        let len = 0;
        // At most 9 digits: a longer number is the start of a newline-framed line (a Unix time).
        while (i < data.length && i - pos < 10 && data[i]! >= 0x30 && data[i]! <= 0x39) len = len * 10 + (data[i++]! - 0x30);
        if (i === data.length && i - pos < 10) break; // the length itself is still arriving
        if (data[i] === SP && i - pos < 10) {
          const start = i + 1;
          if (len > this.maxMessageSize) {
            this.onDrop('too_large');
            this.skipBytes = len;
            pos = start;
            continue;
          }
          if (data.length - start < len) break; // wait for the rest of the frame
          this.onMessage(data.subarray(start, start + len));
          pos = start + len;
          continue;
        }
        // Digits not followed by a space: a newline-framed message that starts with a number.
      }
      const nl = data.indexOf(LF, pos);
      if (nl < 0) {
        if (data.length - pos > this.maxMessageSize) {
          this.onDrop('too_large');
          this.skipToNewline = true;
          pos = data.length;
        }
        break;
      }
      let end = nl;
      if (end > pos && data[end - 1] === 0x0d) end--;
      if (end - pos > this.maxMessageSize) this.onDrop('too_large');
      else this.onMessage(data.subarray(pos, end));
      pos = nl + 1;
    }
    if (pos < data.length) {
      // Copy so the chunk the socket handed us is not kept alive by a small remainder.
      this.pending = Buffer.from(data.subarray(pos));
    }
    data = Buffer.alloc(0);
  }

  /** The connection ended: a last newline-less message counts, a cut octet-counted frame does not. */
  end(): void {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    if (this.skipBytes > 0 || this.skipToNewline) {
      this.skipBytes = 0;
      this.skipToNewline = false;
      return;
    }
    if (rest.length === 0) return;
    const first = rest[0]!;
    if (first >= 0x31 && first <= 0x39) {
      let i = 0;
      while (i < rest.length && rest[i]! >= 0x30 && rest[i]! <= 0x39) i++;
      if (i === rest.length || rest[i] === SP) {
        this.onDrop('truncated');
        return;
      }
    }
    if (rest.length > this.maxMessageSize) this.onDrop('too_large');
    else this.onMessage(rest);
  }
}

const MONTHS = new Set(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']);

/**
 * The message text of a syslog message, header removed: RFC 5424
 * (`<PRI>1 TS HOST APP PROCID MSGID SD MSG`), RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`,
 * also with an ISO timestamp or no host), or text without any header as is.
 */
export function syslogMessageText(text: string): string {
  if (text.charCodeAt(0) !== 60 /* < */) return stripBom(text);
  const close = text.indexOf('>');
  if (close < 2 || close > 4) return text;
  for (let i = 1; i < close; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return text;
  }
  const rest = text.slice(close + 1);
  if (rest.startsWith('1 ')) return rfc5424Message(rest.slice(2));
  return rfc3164Message(rest);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** After `1 `: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [SP MSG]. */
function rfc5424Message(text: string): string {
  let pos = 0;
  for (let field = 0; field < 5; field++) {
    const sp = text.indexOf(' ', pos);
    if (sp < 0) return '';
    pos = sp + 1;
  }
  // Structured data: `-` or one or more `[id k="v" ...]` with `\]` escapes inside values.
  if (text.charCodeAt(pos) === 45 /* - */) pos++;
  else {
    while (text.charCodeAt(pos) === 91 /* [ */) {
      let i = pos + 1;
      let inQuotes = false;
      for (; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 92 /* \ */) i++;
        else if (c === 34) inQuotes = !inQuotes;
        else if (c === 93 /* ] */ && !inQuotes) break;
      }
      pos = i + 1;
    }
  }
  if (text.charCodeAt(pos) === 32) pos++;
  return stripBom(text.slice(pos));
}

function rfc3164Message(text: string): string {
  let pos = 0;
  // Timestamp: `Mmm dd hh:mm:ss` (day space-padded), or an ISO 8601 one as rsyslog may send.
  if (text.length >= 16 && MONTHS.has(text.slice(0, 3)) && text.charCodeAt(3) === 32 && text.charCodeAt(9) === 58) {
    pos = 16;
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const sp = text.indexOf(' ');
    pos = sp < 0 ? text.length : sp + 1;
  }
  // Host then TAG (`squid[123]:`), or the TAG alone when the sender left the host out.
  const firstEnd = tokenEnd(text, pos);
  const first = text.slice(pos, firstEnd);
  if (isTag(first)) return skipSpace(text, firstEnd);
  const secondStart = skipSpaceIndex(text, firstEnd);
  const secondEnd = tokenEnd(text, secondStart);
  if (pos > 0 && isTag(text.slice(secondStart, secondEnd))) return skipSpace(text, secondEnd);
  // No tag: the message follows the host when there was a timestamp, else it is all message.
  return pos > 0 ? text.slice(secondStart) : text;
}

function tokenEnd(text: string, from: number): number {
  const sp = text.indexOf(' ', from);
  return sp < 0 ? text.length : sp;
}

function skipSpaceIndex(text: string, from: number): number {
  let i = from;
  while (i < text.length && text.charCodeAt(i) === 32) i++;
  return i;
}

function skipSpace(text: string, from: number): string {
  return text.slice(skipSpaceIndex(text, from));
}

/** `squid:`, `squid[1234]:`, `(squid-1)[99]:` — up to 48 characters ending in a colon. */
function isTag(token: string): boolean {
  if (token.length < 2 || token.length > 49 || token.charCodeAt(token.length - 1) !== 58) return false;
  return /^[\w.()/-]+(?:\[\d+\])?:$/.test(token);
}
