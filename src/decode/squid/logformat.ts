import { EgressdError } from '../../errors.js';

// Squid `logformat` strings (`%ts.%03tu %6tr %>a ...`) compiled once into a list of steps that
// a line is matched against left to right, without regular expressions.

/** What a format code means to egressd; codes it has no use for are matched and skipped. */
export enum Field {
  Ignore,
  EndSeconds, // %ts
  EndMillis, // %tu (the sub-second part, three digits with %03tu)
  StartTime, // %tS: seconds.fraction
  LocalTime, // %tl, %tg: 13/Jun/2026:10:00:00 +0000
  Elapsed, // %tr milliseconds
  ClientIp, // %>a
  ClientName, // %>A
  ClientPort, // %>p
  ServerIp, // %<a
  ServerName, // %<A
  ServerPort, // %<p
  User, // %un
  UserLogin, // %ul
  UserExternal, // %ue
  UserSsl, // %us
  UserIdent, // %ui
  SquidStatus, // %Ss
  Hierarchy, // %Sh
  Status, // %>Hs
  ServerStatus, // %<Hs
  ReplySize, // %<st
  RequestSize, // %>st
  ContentType, // %mt
  Method, // %rm
  Url, // %ru
  Path, // %rp
  UserAgent, // %{User-Agent}>h
  HostHeader, // %{Host}>h
  ReplyContentType, // %{Content-Type}<h
  RequestDomain, // %>rd
  Count,
}

export const FIELD_COUNT = Field.Count as number;

/** How a field is quoted in the line (Squid's format modifiers). */
export enum Quoting {
  None,
  /** `%"x`: enclosed in double quotes, `\` escapes. */
  Double,
  /** `%[x` and `%#x`: URL-style %XX escapes. */
  Percent,
}

export enum StepKind {
  /** One or more spaces or tabs (a padded field may bring more). */
  Space,
  /** Exact text between codes. */
  Literal,
  Field,
}

export interface Step {
  kind: StepKind;
  text: string;
  field: Field;
  quoting: Quoting;
  /** Set on a field: the text that ends it (the next literal) when it is not a space. */
  terminator: string;
  /** The terminator must be followed by a space or the end of line (`"%{User-Agent}>h" `). */
  terminatorThenSpace: boolean;
  /** No later step contains the terminator, so its last occurrence ends the field. */
  terminatorLast: boolean;
  /** %tl/%tg spans one space when a space ends it: `13/Jun/2026:10:00:00 +0000`. */
  innerSpaces: number;
  /** A count or number: plain digits are read straight into `numbers`, not copied out as text. */
  numeric: boolean;
}

/** Fields read as plain digits; see `NUMBER_FIELD`. */
const NUMERIC_FIELDS = new Set<Field>([
  Field.EndSeconds,
  Field.EndMillis,
  Field.Elapsed,
  Field.ClientPort,
  Field.ServerPort,
  Field.Status,
  Field.ServerStatus,
  Field.ReplySize,
  Field.RequestSize,
]);

/**
 * Put in `values` for a numeric field whose text was plain digits (1 to 15 of them): its value
 * is in `numbers` instead. Never a field's real text (a line holding U+0000 is rejected first).
 */
export const NUMBER_FIELD = '\u0000number';

export interface CompiledFormat {
  source: string;
  steps: Step[];
  /** Which fields the format carries: a record needs a client and a time. */
  has: boolean[];
  /** The fields a line fills, to reset before the next one. */
  usedFields: number[];
}

/** The formats Squid predefines, by name. */
export const PREDEFINED_FORMATS: Record<string, string> = {
  squid: '%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt',
  common: '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh',
  combined: '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh',
  referrer: '%ts.%03tu %>a %{Referer}>h %ru',
  useragent: '%>a [%tl] "%{User-Agent}>h"',
};

const CODES: [string, Field][] = [
  ['ts', Field.EndSeconds],
  ['tu', Field.EndMillis],
  ['tS', Field.StartTime],
  ['tl', Field.LocalTime],
  ['tg', Field.LocalTime],
  ['tr', Field.Elapsed],
  ['dt', Field.Ignore],
  ['tt', Field.Ignore],
  ['<tt', Field.Ignore],
  ['<pt', Field.Ignore],
  ['busy_time', Field.Ignore],
  ['>a', Field.ClientIp],
  ['>A', Field.ClientName],
  ['>p', Field.ClientPort],
  ['<a', Field.ServerIp],
  ['<A', Field.ServerName],
  ['<p', Field.ServerPort],
  ['la', Field.Ignore],
  ['lp', Field.Ignore],
  ['>la', Field.Ignore],
  ['>lp', Field.Ignore],
  ['<la', Field.Ignore],
  ['<lp', Field.Ignore],
  ['>eui', Field.Ignore],
  ['>qos', Field.Ignore],
  ['<qos', Field.Ignore],
  ['>nfmark', Field.Ignore],
  ['<nfmark', Field.Ignore],
  ['un', Field.User],
  ['ul', Field.UserLogin],
  ['ue', Field.UserExternal],
  ['us', Field.UserSsl],
  ['ui', Field.UserIdent],
  ['ub', Field.Ignore],
  ['ut', Field.Ignore],
  ['credentials', Field.Ignore],
  ['Ss', Field.SquidStatus],
  ['Sh', Field.Hierarchy],
  ['>Hs', Field.Status],
  ['Hs', Field.Status],
  ['<Hs', Field.ServerStatus],
  ['<st', Field.ReplySize],
  ['>st', Field.RequestSize],
  ['st', Field.Ignore],
  ['<sh', Field.Ignore],
  ['>sh', Field.Ignore],
  ['<bs', Field.Ignore],
  ['>bs', Field.Ignore],
  ['mt', Field.ContentType],
  ['rm', Field.Method],
  ['>rm', Field.Method],
  ['<rm', Field.Ignore],
  ['ru', Field.Url],
  ['>ru', Field.Url],
  ['<ru', Field.Ignore],
  ['rp', Field.Path],
  ['>rp', Field.Path],
  ['<rp', Field.Ignore],
  ['rv', Field.Ignore],
  ['>rv', Field.Ignore],
  ['<rv', Field.Ignore],
  ['>rs', Field.Ignore],
  ['<rs', Field.Ignore],
  ['>rd', Field.RequestDomain],
  ['<rd', Field.Ignore],
  ['>rP', Field.Ignore],
  ['<rP', Field.Ignore],
  ['>h', Field.Ignore],
  ['<h', Field.Ignore],
  ['>ha', Field.Ignore],
  ['ea', Field.Ignore],
  ['et', Field.Ignore],
  ['err_code', Field.Ignore],
  ['err_detail', Field.Ignore],
  ['note', Field.Ignore],
  ['master_xaction', Field.Ignore],
  ['sn', Field.Ignore],
  ['>sn', Field.Ignore],
  ['rG', Field.Ignore],
];
// Longest first so `>Hs` wins over `Hs` and `<tt` over `tt`.
const CODES_LONGEST_FIRST = [...CODES].sort((a, b) => b[0].length - a[0].length);

function headerField(code: string, header: string): Field {
  const name = header.toLowerCase();
  if (code === '>h') {
    if (name === 'user-agent') return Field.UserAgent;
    if (name === 'host') return Field.HostHeader;
  } else if (code === '<h' && name === 'content-type') return Field.ReplyContentType;
  return Field.Ignore;
}

function formatError(source: string, at: number, why: string): EgressdError {
  return new EgressdError('CONFIG_INVALID', `squid logformat: ${why} at offset ${at} in "${source}"`);
}

/**
 * Compile a logformat: a predefined name (`squid`, `common`, `combined`, `referrer`,
 * `useragent`) or a format string of % codes; a `logformat NAME ...` line is accepted too.
 */
export function compileLogformat(format: string): CompiledFormat {
  let source = PREDEFINED_FORMATS[format.trim()] ?? format;
  const directive = /^\s*logformat\s+\S+\s+/.exec(source);
  if (directive) source = source.slice(directive[0].length);
  source = source.trim();
  if (source === '') throw formatError(format, 0, 'empty format');

  const steps: Step[] = [];
  let literal = '';
  const flushLiteral = () => {
    // Split literal text into exact pieces and whitespace runs.
    let i = 0;
    while (i < literal.length) {
      if (literal[i] === ' ' || literal[i] === '\t') {
        while (i < literal.length && (literal[i] === ' ' || literal[i] === '\t')) i++;
        steps.push(step(StepKind.Space, ' '));
      } else {
        let j = i;
        while (j < literal.length && literal[j] !== ' ' && literal[j] !== '\t') j++;
        steps.push(step(StepKind.Literal, literal.slice(i, j)));
        i = j;
      }
    }
    literal = '';
  };

  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c !== '%') {
      literal += c;
      i++;
      continue;
    }
    const at = i;
    i++;
    if (source[i] === '%') {
      literal += '%';
      i++;
      continue;
    }
    flushLiteral();
    let quoting = Quoting.None;
    // Modifiers: quoting, alignment, zero padding, width and precision.
    while (i < source.length && '"[#\'/-0123456789.'.includes(source[i]!)) {
      const m = source[i]!;
      if (m === '"') quoting = Quoting.Double;
      else if (m === '[' || m === '#') quoting = Quoting.Percent;
      i++;
    }
    let arg = '';
    if (source[i] === '{') {
      const close = source.indexOf('}', i);
      if (close < 0) throw formatError(source, at, 'unterminated {argument}');
      arg = source.slice(i + 1, close);
      i = close + 1;
    }
    let code: string | undefined;
    let field = Field.Ignore;
    const namespaced = /^[a-z_]+::[<>]?[A-Za-z_]+/.exec(source.slice(i));
    if (namespaced) {
      code = namespaced[0];
    } else {
      for (const [name, f] of CODES_LONGEST_FIRST) {
        if (source.startsWith(name, i)) {
          code = name;
          field = f;
          break;
        }
      }
    }
    if (code === undefined) throw formatError(source, at, `unknown code "${source.slice(at, at + 6)}"`);
    i += code.length;
    if (arg === '' && source[i] === '{' && (code === '>h' || code === '<h' || code === '>ha' || code === 'note')) {
      const close = source.indexOf('}', i);
      if (close < 0) throw formatError(source, at, 'unterminated {argument}');
      arg = source.slice(i + 1, close);
      i = close + 1;
    }
    if (arg !== '' && (code === '>h' || code === '<h')) field = headerField(code, arg.split(':')[0]!);
    const s = step(StepKind.Field, code);
    s.field = field;
    s.quoting = quoting;
    s.numeric = NUMERIC_FIELDS.has(field);
    if (field === Field.LocalTime) s.innerSpaces = 1;
    steps.push(s);
  }
  flushLiteral();

  // A field's end is the next step: a space, or the literal text that follows it.
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k]!;
    if (s.kind !== StepKind.Field) continue;
    const next = steps[k + 1];
    if (next?.kind === StepKind.Field && s.quoting !== Quoting.Double) {
      throw formatError(source, 0, `codes %${s.text} and %${next.text} follow each other with nothing between them`);
    }
    if (next?.kind === StepKind.Literal) {
      s.terminator = next.text;
      const after = steps[k + 2];
      s.terminatorThenSpace = after === undefined || after.kind === StepKind.Space;
      // A user agent may hold quotes: when no later step can contain the terminator, the
      // last occurrence is the right one.
      s.terminatorLast =
        next.text.startsWith('"') &&
        steps
          .slice(k + 2)
        .every((later) => (later.kind === StepKind.Literal ? !later.text.includes(next.text) : later.quoting !== Quoting.Double));
    }
  }
  const has = new Array<boolean>(FIELD_COUNT).fill(false);
  for (const s of steps) if (s.kind === StepKind.Field) has[s.field] = true;
  if (!has[Field.ClientIp] && !has[Field.ClientName]) throw formatError(source, 0, 'the format has no client address (%>a)');
  if (!has[Field.EndSeconds] && !has[Field.LocalTime] && !has[Field.StartTime]) {
    throw formatError(source, 0, 'the format has no time (%ts, %tl, %tg or %tS)');
  }
  const usedFields: number[] = [];
  for (let f = 0; f < FIELD_COUNT; f++) if (has[f] && f !== Field.Ignore) usedFields.push(f);
  return { source, steps, has, usedFields };
}

function step(kind: StepKind, text: string): Step {
  return {
    kind,
    text,
    field: Field.Ignore,
    quoting: Quoting.None,
    terminator: '',
    terminatorThenSpace: false,
    terminatorLast: false,
    innerSpaces: 0,
    numeric: false,
  };
}

function isSpace(c: number): boolean {
  return c === 32;
}

/**
 * Match a line against a compiled format and put each field's raw text (quotes removed,
 * escapes undone for `%"` fields) in `values`, indexed by `Field`. Returns '' on success,
 * else the reason the line does not match.
 */
export function matchLine(
  format: CompiledFormat,
  line: string,
  values: (string | undefined)[],
  numbers?: Float64Array,
): string {
  // Fields end at a space; a rare tab separator is made a space so native indexOf can scan.
  if (line.indexOf('\t') >= 0) line = line.replace(/\t/g, ' ');
  const steps = format.steps;
  const end = line.length;
  let pos = 0;
  while (pos < end && line.charCodeAt(pos) === 32) pos++;
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k]!;
    const kind = s.kind;
    if (kind === StepKind.Space) {
      if (pos >= end || line.charCodeAt(pos) !== 32) return 'format_mismatch';
      pos++;
      while (pos < end && line.charCodeAt(pos) === 32) pos++;
      continue;
    }
    if (kind === StepKind.Literal) {
      if (!line.startsWith(s.text, pos)) return 'format_mismatch';
      pos += s.text.length;
      continue;
    }
    let value: string;
    if (s.quoting === Quoting.Double && line.charCodeAt(pos) === 34 /* " */) {
      const close = closingQuote(line, pos + 1);
      if (close < 0) return 'format_mismatch';
      value = unescapeQuoted(line.slice(pos + 1, close));
      pos = close + 1;
    } else {
      let stop: number;
      if (s.terminator !== '') {
        stop = s.terminatorLast
          ? findLastTerminator(line, pos, s.terminator, s.terminatorThenSpace)
          : findTerminator(line, pos, s.terminator, s.terminatorThenSpace);
        if (stop < 0) return 'format_mismatch';
      } else if (k === steps.length - 1) {
        // The last field takes the rest of the line minus trailing blanks.
        stop = end;
        while (stop > pos && line.charCodeAt(stop - 1) === 32) stop--;
      } else {
        // Most fields are a few characters: a plain scan beats a call to indexOf, which
        // takes over for the long ones (URLs).
        stop = pos;
        const near = Math.min(end, pos + SHORT_FIELD);
        while (stop < near && line.charCodeAt(stop) !== 32) stop++;
        if (stop === near && stop < end) stop = line.indexOf(' ', stop);
        // %tl spans one space: `13/Jun/2026:10:00:00 +0000`.
        if (s.innerSpaces > 0 && stop >= 0) stop = line.indexOf(' ', stop + 1);
        if (stop < 0) stop = end;
      }
      if (s.numeric && numbers !== undefined) {
        const n = digitsValue(line, pos, stop);
        if (n >= 0) {
          numbers[s.field] = n;
          values[s.field] = NUMBER_FIELD;
          pos = stop;
          continue;
        }
      }
      // Codes egressd has no use for are matched but never copied.
      value = s.field === Field.Ignore ? '' : line.slice(pos, stop);
      pos = stop;
    }
    if (s.field !== Field.Ignore) values[s.field] = value;
  }
  while (pos < end && line.charCodeAt(pos) === 32) pos++;
  return pos === end ? '' : 'format_mismatch';
}

/** Characters scanned one by one for a field's end before indexOf is called. */
const SHORT_FIELD = 16;

/** `line[start, end)` as a number when it is 1 to 15 decimal digits; else -1. */
function digitsValue(line: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function findTerminator(line: string, from: number, terminator: string, thenSpace: boolean): number {
  let at = line.indexOf(terminator, from);
  if (!thenSpace) return at;
  while (at >= 0) {
    const after = at + terminator.length;
    if (after === line.length || isSpace(line.charCodeAt(after))) return at;
    at = line.indexOf(terminator, at + 1);
  }
  return -1;
}

function findLastTerminator(line: string, from: number, terminator: string, thenSpace: boolean): number {
  let at = line.lastIndexOf(terminator);
  while (at >= from) {
    const after = at + terminator.length;
    if (!thenSpace || after === line.length || isSpace(line.charCodeAt(after))) return at;
    at = line.lastIndexOf(terminator, at - 1);
  }
  return -1;
}

function closingQuote(line: string, from: number): number {
  for (let i = from; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 92 /* \ */) i++;
    else if (c === 34) return i;
  }
  return -1;
}

function unescapeQuoted(text: string): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\' || i + 1 >= text.length) {
      out += c;
      continue;
    }
    const n = text[++i]!;
    out += n === 'n' ? '\n' : n === 'r' ? '\r' : n === 't' ? '\t' : n;
  }
  return out;
}
