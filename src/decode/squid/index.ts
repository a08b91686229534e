import { DecodeError } from '../../errors.js';
import { PROTO_TCP, type AppEvidence, type FlowRecord, type SourceRef } from '../../record.js';
import { parseIPv4, parseIPv6 } from '../../util/ip.js';
import type { LineDecoder } from '../types.js';
import { squidFormatSchema, type SquidFormatConfig } from './config.js';
import { FIELD_COUNT, Field, NUMBER_FIELD, compileLogformat, matchLine, type CompiledFormat } from './logformat.js';
import { bittorrentEvidence, objectFacts, parseUrl, percentDecodeText, splitHostPort, type UrlParts } from './url-facts.js';

export { compileLogformat, PREDEFINED_FORMATS } from './logformat.js';
export * from './url-facts.js';

/**
 * Named reasons a line is rejected; the caller counts them (`source_errors_total{reason}`).
 * A rejected line is dropped, never fatal.
 */
export const SQUID_DECODE_ERRORS = [
  'empty_line',
  'line_too_long',
  'binary',
  'format_mismatch',
  'bad_timestamp',
  'bad_client',
  'bad_number',
  'no_request',
] as const;
export type SquidDecodeError = (typeof SQUID_DECODE_ERRORS)[number];

/** Squid access.log in native, common, combined or a custom logformat. */
export function createSquidDecoder(sourceId: string, config: SquidFormatConfig): LineDecoder {
  return new SquidDecoder(sourceId, config);
}

const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

/** Control characters (tab aside) and U+FFFD, what invalid UTF-8 decodes to: binary junk. */
// eslint-disable-next-line no-control-regex
const BINARY = /[\u0000-\u0008\u000a-\u001f\u007f\ufffd]/;
/** Anything but printable ASCII and tab: a line without any is not binary (the usual case). */
const NOT_PLAIN_ASCII = /[^\t -~]/;

/** Hierarchy codes where `%<a` is a cache peer, not the origin server. */
const PEER_HIERARCHY = /PARENT|SIBLING|CARP|(?:^|_)CD_/;

export class SquidDecoder implements LineDecoder {
  private readonly format: CompiledFormat;
  private readonly values: (string | undefined)[] = new Array<string | undefined>(FIELD_COUNT).fill(undefined);
  /** Numeric fields that were plain digits (their `values` entry is NUMBER_FIELD). */
  private readonly numbers = new Float64Array(FIELD_COUNT);
  private readonly source: SourceRef;
  private readonly maxLineLength: number;

  constructor(sourceId: string, config: SquidFormatConfig = {}) {
    const parsed = squidFormatSchema.parse(config);
    this.format = compileLogformat(parsed.logformat);
    this.maxLineLength = parsed.max_line_length;
    this.source = { type: 'squid', id: sourceId };
  }

  decodeLine(line: string, out: FlowRecord[]): void {
    const length = line.length;
    if (length === 0) throw new DecodeError('empty_line');
    if (length > this.maxLineLength) throw new DecodeError('line_too_long');
    if (NOT_PLAIN_ASCII.test(line) && BINARY.test(line)) {
      // A trailing CR (a file written on Windows) is not junk.
      if (!(line.charCodeAt(length - 1) === 13 && !BINARY.test(line.slice(0, -1)))) throw new DecodeError('binary');
    }
    const v = this.values;
    const used = this.format.usedFields;
    for (let i = 0; i < used.length; i++) v[used[i]!] = undefined;
    const n = this.numbers;
    const mismatch = matchLine(this.format, line, v, n);
    if (mismatch !== '') throw new DecodeError(mismatch);

    // Time: the log line is written when the transaction ends; %tr is how long it took.
    const elapsedText = v[Field.Elapsed];
    const elapsed =
      elapsedText === NUMBER_FIELD ? n[Field.Elapsed]! : elapsedText === undefined || elapsedText === '-' ? 0 : parseDecimal(elapsedText);
    if (elapsed < 0) throw new DecodeError('bad_number', 'elapsed time is not a number');
    let tsEnd: number;
    let ts: number;
    const seconds = v[Field.EndSeconds];
    if (seconds !== undefined) {
      const s = seconds === NUMBER_FIELD ? n[Field.EndSeconds]! : parseUint(seconds);
      const millisText = v[Field.EndMillis];
      const ms = millisText === undefined ? 0 : millisText === NUMBER_FIELD ? n[Field.EndMillis]! : parseUint(millisText);
      if (s < 0 || ms < 0 || ms > 999) throw new DecodeError('bad_timestamp');
      tsEnd = s * 1000 + ms;
      ts = tsEnd - Math.round(elapsed);
    } else if (v[Field.StartTime] !== undefined) {
      const start = parseDecimal(v[Field.StartTime]!);
      if (start < 0) throw new DecodeError('bad_timestamp');
      ts = Math.round(start * 1000);
      tsEnd = ts + Math.round(elapsed);
    } else {
      tsEnd = parseLogTime(v[Field.LocalTime] ?? '');
      if (Number.isNaN(tsEnd)) throw new DecodeError('bad_timestamp');
      ts = tsEnd - Math.round(elapsed);
    }

    let src = v[Field.ClientIp];
    if (src === undefined || !isIpText(src)) {
      const name = v[Field.ClientName];
      if (name !== undefined && isIpText(name)) src = name;
      else throw new DecodeError('bad_client');
    }
    const clientPort = optionalUint(v[Field.ClientPort], n[Field.ClientPort]!);

    const replySize = optionalUint(v[Field.ReplySize], n[Field.ReplySize]!);
    const requestSize = optionalUint(v[Field.RequestSize], n[Field.RequestSize]!);
    const statusField = v[Field.Status] !== undefined ? Field.Status : Field.ServerStatus;
    const statusText = v[statusField];
    const status =
      statusText === undefined || statusText === '-' ? -1 : statusText === NUMBER_FIELD ? n[statusField]! : parseUint(statusText);
    if (replySize < -1 || requestSize < -1 || clientPort < -1 || status < -1) throw new DecodeError('bad_number');

    const method = present(v[Field.Method]);
    let url = present(v[Field.Url]);
    if (url === undefined && v[Field.Path] !== undefined) url = present(v[Field.Path]);
    // A connection closed before any request (`error:transaction-end-before-headers`, an
    // unparsable request): no egress happened, so no record; counted.
    if ((url === undefined || url.startsWith('error:')) && (this.format.has[Field.Url] || this.format.has[Field.Path])) {
      throw new DecodeError('no_request');
    }
    const contentType = present(v[Field.ContentType]) ?? present(v[Field.ReplyContentType]);
    const userAgent = present(v[Field.UserAgent]);

    // Server: %<a is the origin only when Squid went direct; via a peer it names the peer.
    let dst = '';
    const serverIp = v[Field.ServerIp];
    if (serverIp !== undefined && serverIp !== '-' && isIpText(serverIp)) {
      const hierarchy = v[Field.Hierarchy];
      if (hierarchy === undefined || hierarchy === 'HIER_DIRECT' || !PEER_HIERARCHY.test(hierarchy)) dst = serverIp;
    }
    let dstPort = optionalUint(v[Field.ServerPort], n[Field.ServerPort]!);

    let serverName: string | undefined;
    let parts: UrlParts | undefined;
    if (url !== undefined) {
      if (method === 'CONNECT' || url.indexOf('://') < 0) {
        // A CONNECT tunnel logs `host:port`: bytes, but no path.
        const hp = url.charCodeAt(0) === 47 /* / */ ? undefined : splitHostPort(url);
        if (hp && hp.host !== '') {
          serverName = hp.host;
          if (dstPort < 0 && hp.port !== undefined) dstPort = hp.port;
        }
      } else {
        parts = parseUrl(url);
        if (parts) {
          serverName = parts.host;
          if (dstPort < 0 && parts.port > 0) dstPort = parts.port;
        }
      }
    }
    if (serverName === undefined) {
      const named = present(v[Field.RequestDomain]) ?? present(v[Field.HostHeader]);
      if (named !== undefined) {
        const hp = splitHostPort(named);
        if (hp && hp.host !== '') serverName = hp.host;
      }
    }
    if (serverName !== undefined && isIpText(serverName)) {
      // An address in the URL is the server itself, not a name for it.
      if (dst === '') dst = serverName;
      serverName = undefined;
    }

    let app: AppEvidence | undefined;
    if (url !== undefined) app = bittorrentEvidence(url, parts, contentType, userAgent);
    else if (userAgent !== undefined) app = bittorrentEvidence('', undefined, contentType, userAgent);
    // Every record has the same shape (absent facts are undefined): monomorphic downstream.
    const rec: FlowRecord = {
      ts,
      tsEnd,
      src,
      srcPort: clientPort < 0 ? 0 : clientPort,
      dst,
      dstPort: dstPort < 0 ? 0 : dstPort,
      proto: PROTO_TCP,
      bytesOut: requestSize < 0 ? 0 : requestSize,
      bytesIn: replySize < 0 ? 0 : replySize,
      packetsOut: 0,
      packetsIn: 0,
      serverName,
      app,
      user: this.user(),
      url,
      method,
      status: status >= 0 ? status : undefined,
      contentType,
      userAgent,
      object: parts && method !== 'CONNECT' ? objectFacts(parts, contentType) : undefined,
      source: this.source,
    };
    out.push(rec);
  }

  /** The first authenticated identity the line carries; `-` means none. */
  private user(): string | undefined {
    const v = this.values;
    const text =
      present(v[Field.User]) ?? present(v[Field.UserLogin]) ?? present(v[Field.UserExternal]) ??
      present(v[Field.UserSsl]) ?? present(v[Field.UserIdent]);
    return text === undefined ? undefined : percentDecodeText(text);
  }
}

function present(text: string | undefined): string | undefined {
  return text === undefined || text === '' || text === '-' ? undefined : text;
}

function isIpText(text: string): boolean {
  if (parseIPv4(text) >= 0) return true;
  return text.includes(':') && parseIPv6(text) !== undefined;
}

/** Non-negative integer (leading padding allowed); -2 when not one. */
function parseUint(text: string): number {
  let i = 0;
  while (i < text.length && text.charCodeAt(i) === 32) i++;
  if (i === text.length || text.length - i > 15) return -2;
  let n = 0;
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -2;
    n = n * 10 + d;
  }
  return n;
}

/** A field that may be `-` (unknown): -1 then, -2 when not a number; `number` when read as digits. */
function optionalUint(text: string | undefined, number: number): number {
  if (text === undefined || text === '-') return -1;
  return text === NUMBER_FIELD ? number : parseUint(text);
}

/** Non-negative decimal such as `1157689312.049` or `104`; -2 when not one. */
function parseDecimal(text: string): number {
  const dot = text.indexOf('.');
  if (dot < 0) return parseUint(text);
  const whole = parseUint(text.slice(0, dot));
  const fraction = text.slice(dot + 1);
  const f = fraction === '' ? 0 : parseUint(fraction);
  if (whole < 0 || f < 0) return -2;
  return whole + f / 10 ** fraction.length;
}

/** `13/Jun/2026:10:00:00 +0200` (Squid %tl, %tg) to epoch ms; NaN when malformed. */
export function parseLogTime(text: string): number {
  const m = /^(\d{1,2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(?:\s+([+-])(\d{2}):?(\d{2}))?$/.exec(text);
  if (!m) return NaN;
  const month = MONTHS[m[2]!];
  if (month === undefined) return NaN;
  const day = Number(m[1]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return NaN;
  let t = Date.UTC(Number(m[3]), month, day, hour, minute, second, m[7] ? Number(m[7].padEnd(3, '0')) : 0);
  if (m[8]) {
    const offset = (Number(m[9]) * 60 + Number(m[10])) * 60_000;
    t += m[8] === '+' ? -offset : offset;
  }
  return t;
}
