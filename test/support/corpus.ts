import { createWriteStream } from 'node:fs';

// Small synthetic logs for CLI and lifecycle tests (the evaluation harness has the real generator).

const ZEEK_HEADER = [
  '#separator \\x09',
  '#set_separator\t,',
  '#empty_field\t(empty)',
  '#unset_field\t-',
  '#path\tconn',
  '#open\t2026-06-11-09-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]',
].join('\n');

export interface ZeekCorpusOptions {
  lines: number;
  /** Event time of the first line, epoch ms. */
  startMs?: number;
  /** Internal hosts 10.20.0.1 … 10.20.0.N. */
  hosts?: number;
}

/** One Zeek conn.log line (TSV, header above) per flow: many hosts talking to many remotes. */
export function zeekLine(i: number, options: ZeekCorpusOptions): string {
  const start = (options.startMs ?? Date.parse('2026-06-11T09:00:00Z')) / 1000 + i * 0.01;
  const host = `10.20.${(i % (options.hosts ?? 50)) >> 8}.${((i % (options.hosts ?? 50)) & 255) + 1}`;
  const remote = `198.51.${(i >> 8) & 255}.${i & 255}`;
  return [
    start.toFixed(6), `C${i}`, host, String(40000 + (i % 20000)), remote, '443', 'tcp', 'ssl', '1.5',
    '800', String(20000 + (i % 1000)), 'SF', 'T', 'F', '0', 'ShADadFf', '10', '1200', '20', '21000', '-',
  ].join('\t');
}

/** Write a Zeek conn.log of `lines` flows to `path`. */
export async function writeZeekCorpus(path: string, options: ZeekCorpusOptions): Promise<void> {
  const out = createWriteStream(path);
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(ZEEK_HEADER + '\n');
  let chunk = '';
  for (let i = 0; i < options.lines; i++) {
    chunk += zeekLine(i, options) + '\n';
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

export { ZEEK_HEADER };
