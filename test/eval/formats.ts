import { closeSync, openSync, writeSync } from 'node:fs';
import { Prng } from './prng.js';
import type { Conn, ProxyRequest } from './types.js';

// Render the generated corpus in the formats egressd reads: Zeek conn.log (TSV), AWS VPC flow
// logs v2 and Squid native access.log. Labels never reach these files.

export type CorpusFormat = 'zeek' | 'vpc' | 'squid' | 'squid-combined';
export const CORPUS_FORMATS: readonly CorpusFormat[] = ['zeek', 'vpc', 'squid', 'squid-combined'];

/** How `egressd replay` is told to read a corpus format. */
export function replayArguments(format: CorpusFormat): { format: string; extra: string[] } {
  if (format === 'squid-combined') return { format: 'squid', extra: ['--squid-logformat', 'combined'] };
  return { format, extra: [] };
}

export const ZEEK_FIELDS = [
  'ts',
  'uid',
  'id.orig_h',
  'id.orig_p',
  'id.resp_h',
  'id.resp_p',
  'proto',
  'service',
  'duration',
  'orig_bytes',
  'resp_bytes',
  'conn_state',
  'local_orig',
  'local_resp',
  'missed_bytes',
  'history',
  'orig_pkts',
  'orig_ip_bytes',
  'resp_pkts',
  'resp_ip_bytes',
  'tunnel_parents',
] as const;

const ZEEK_TYPES = [
  'time',
  'string',
  'addr',
  'port',
  'addr',
  'port',
  'enum',
  'string',
  'interval',
  'count',
  'count',
  'string',
  'bool',
  'bool',
  'count',
  'string',
  'count',
  'count',
  'count',
  'count',
  'set[string]',
];

export const VPC_FIELDS = [
  'version',
  'account-id',
  'interface-id',
  'srcaddr',
  'dstaddr',
  'srcport',
  'dstport',
  'protocol',
  'packets',
  'bytes',
  'start',
  'end',
  'action',
  'log-status',
] as const;

/** Fields of a Squid native line: time.ms elapsed client code/status bytes method URL user hierarchy/peer type. */
export const SQUID_NATIVE_FIELD_COUNT = 10;

function isInternal(ip: string): boolean {
  return ip.startsWith('10.');
}

function zeekTime(ms: number): string {
  return (ms / 1000).toFixed(6);
}

function zeekStamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', '-').replace(/:/g, '-').slice(0, 19);
}

/** Header lines of a Zeek TSV conn.log opened at `openMs`. */
export function zeekHeader(openMs: number): string[] {
  return [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    '#path\tconn',
    `#open\t${zeekStamp(openMs)}`,
    `#fields\t${ZEEK_FIELDS.join('\t')}`,
    `#types\t${ZEEK_TYPES.join('\t')}`,
  ];
}

export function zeekFooter(closeMs: number): string {
  return `#close\t${zeekStamp(closeMs)}`;
}

/** One conn.log line; `uidRng` makes the connection uids reproducible. */
export function zeekLine(c: Conn, uidRng: Prng): string {
  const origIsHost = c.hostOriginated;
  const origH = origIsHost ? c.host : c.remote;
  const origP = origIsHost ? c.hostPort : c.remotePort;
  const respH = origIsHost ? c.remote : c.host;
  const respP = origIsHost ? c.remotePort : c.hostPort;
  const origBytes = origIsHost ? c.bytesOut : c.bytesIn;
  const respBytes = origIsHost ? c.bytesIn : c.bytesOut;
  const origPkts = origIsHost ? c.packetsOut : c.packetsIn;
  const respPkts = origIsHost ? c.packetsIn : c.packetsOut;
  const tcp = c.proto === 'tcp';
  const header = tcp ? 40 : 28;
  let state: string;
  let history: string;
  if (tcp) {
    state = 'SF';
    history = 'ShADadFf';
  } else if (respPkts > 0) {
    state = 'SF';
    history = 'Dd';
  } else {
    state = 'S0';
    history = 'D';
  }
  return [
    zeekTime(c.ts),
    `C${uidRng.base62(17)}`,
    origH,
    origP,
    respH,
    respP,
    c.proto,
    c.service ?? '-',
    (c.durationMs / 1000).toFixed(6),
    origBytes,
    respBytes,
    state,
    isInternal(origH) ? 'T' : 'F',
    isInternal(respH) ? 'T' : 'F',
    0,
    history,
    origPkts,
    origBytes + origPkts * header,
    respPkts,
    respBytes + respPkts * header,
    '-',
  ].join('\t');
}

/** VPC flow log aggregation interval: long connections are reported once per window. */
const VPC_WINDOW_MS = 600_000;

function interfaceId(host: string): string {
  const parts = host.split('.').map(Number);
  const n = ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0);
  return `eni-0${n.toString(16).padStart(16, '0')}`;
}

/** VPC flow log v2 lines of a connection: one per direction per aggregation window. */
export function vpcLines(c: Conn, account = '123456789012'): string[] {
  const out: string[] = [];
  const proto = c.proto === 'tcp' ? 6 : 17;
  const header = c.proto === 'tcp' ? 40 : 28;
  const eni = interfaceId(c.host);
  const endMs = c.ts + c.durationMs;
  const slices = Math.max(1, Math.ceil(c.durationMs / VPC_WINDOW_MS));
  const [outSrc, outDst, outSport, outDport] = [c.host, c.remote, c.hostPort, c.remotePort];
  for (let i = 0; i < slices; i++) {
    const from = c.ts + i * VPC_WINDOW_MS;
    const to = Math.min(endMs, from + VPC_WINDOW_MS);
    const share = (n: number): number => Math.floor((n * (i + 1)) / slices) - Math.floor((n * i) / slices);
    const startS = Math.floor(from / 1000);
    const endS = Math.max(startS, Math.ceil(to / 1000));
    const pOut = share(c.packetsOut);
    const pIn = share(c.packetsIn);
    if (pOut > 0) {
      out.push(`2 ${account} ${eni} ${outSrc} ${outDst} ${outSport} ${outDport} ${proto} ${pOut} ${share(c.bytesOut) + pOut * header} ${startS} ${endS} ACCEPT OK`);
    }
    if (pIn > 0) {
      out.push(`2 ${account} ${eni} ${outDst} ${outSrc} ${outDport} ${outSport} ${proto} ${pIn} ${share(c.bytesIn) + pIn * header} ${startS} ${endS} ACCEPT OK`);
    }
  }
  return out;
}

function squidCode(r: ProxyRequest): string {
  if (r.method === 'CONNECT') return `TCP_TUNNEL/${r.status}`;
  return `TCP_MISS/${r.status}`;
}

/** One Squid native access.log line (time is the completion time, as Squid logs it). */
export function squidLine(r: ProxyRequest): string {
  const done = r.ts + r.elapsedMs;
  const time = `${Math.floor(done / 1000)}.${String(done % 1000).padStart(3, '0')}`;
  return [
    time,
    String(r.elapsedMs).padStart(6, ' '),
    r.host,
    squidCode(r),
    r.bytes,
    r.method,
    r.url,
    r.user,
    `HIER_DIRECT/${r.remoteIp}`,
    r.contentType,
  ].join(' ');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `%tl` of Squid: `13/Jun/2026:10:00:00 +0000`. */
function squidLocalTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** One line of Squid's predefined `combined` logformat (carries the user agent, not the elapsed time). */
export function squidCombinedLine(r: ProxyRequest): string {
  const code = r.method === 'CONNECT' ? 'TCP_TUNNEL' : 'TCP_MISS';
  return (
    `${r.host} - ${r.user} [${squidLocalTime(r.ts + r.elapsedMs)}] "${r.method} ${r.url} HTTP/1.1" ${r.status} ${r.bytes} ` +
    `"-" "${r.userAgent}" ${code}:HIER_DIRECT`
  );
}

/** Buffered writer: the corpus is large, so lines go out in chunks. */
class LineWriter {
  private readonly fd: number;
  private buffer: string[] = [];
  private size = 0;
  lines = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  write(line: string): void {
    this.buffer.push(line);
    this.size += line.length + 1;
    this.lines++;
    if (this.size > 1 << 20) this.drain();
  }

  private drain(): void {
    if (this.buffer.length === 0) return;
    writeSync(this.fd, this.buffer.join('\n') + '\n');
    this.buffer = [];
    this.size = 0;
  }

  close(): number {
    this.drain();
    closeSync(this.fd);
    return this.lines;
  }
}

/** Write one format of the corpus to `path`; returns the number of data lines. */
export function writeCorpus(
  format: CorpusFormat,
  path: string,
  corpus: { conns: Conn[]; requests: ProxyRequest[] },
  window: { start: number; end: number },
  seed: number,
): number {
  const w = new LineWriter(path);
  let data = 0;
  switch (format) {
    case 'zeek': {
      const uidRng = new Prng(seed, 'zeek-uid');
      for (const line of zeekHeader(window.start)) w.write(line);
      for (const c of corpus.conns) {
        w.write(zeekLine(c, uidRng));
        data++;
      }
      w.write(zeekFooter(window.end));
      break;
    }
    case 'vpc': {
      w.write(VPC_FIELDS.join(' '));
      // Lines of long connections are spread over windows: order all lines by their start.
      const lines: { start: number; line: string }[] = [];
      for (const c of corpus.conns) for (const line of vpcLines(c)) lines.push({ start: Number(line.split(' ', 11)[10]), line });
      lines.sort((a, b) => a.start - b.start);
      for (const l of lines) {
        w.write(l.line);
        data++;
      }
      break;
    }
    case 'squid':
    case 'squid-combined':
      for (const r of corpus.requests) {
        w.write(format === 'squid' ? squidLine(r) : squidCombinedLine(r));
        data++;
      }
      break;
  }
  w.close();
  return data;
}
