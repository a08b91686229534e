import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/env.js';
import { SQUID_NATIVE_FIELD_COUNT, VPC_FIELDS, ZEEK_FIELDS, vpcLines, writeCorpus } from './formats.js';
import { generateCorpus } from './generator.js';
import type { Conn } from './types.js';

describe('corpus formats', () => {
  const corpus = generateCorpus({ seed: 5, hosts: 30, days: 1 });
  const window = { start: Date.parse(corpus.truth.start), end: Date.parse(corpus.truth.end) };
  const dir = tempDir('egressd-eval-formats-');
  afterAll(() => dir.remove());

  const write = (format: 'zeek' | 'vpc' | 'squid' | 'squid-combined'): { lines: string[]; data: number } => {
    const path = join(dir.path, format);
    const data = writeCorpus(format, path, corpus, window, 5);
    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    return { lines: text.slice(0, -1).split('\n'), data };
  };

  it('writes Zeek conn.log TSV with its header and 21 typed fields per line', () => {
    const { lines, data } = write('zeek');
    expect(lines[0]).toBe('#separator \\x09');
    const fields = lines.find((l) => l.startsWith('#fields\t'))!.split('\t').slice(1);
    expect(fields).toEqual([...ZEEK_FIELDS]);
    const types = lines.find((l) => l.startsWith('#types\t'))!.split('\t').slice(1);
    expect(types).toHaveLength(fields.length);
    expect(lines.at(-1)).toMatch(/^#close\t/);
    const rows = lines.filter((l) => !l.startsWith('#'));
    expect(rows).toHaveLength(data);
    expect(data).toBe(corpus.conns.length);
    const uids = new Set<string>();
    const bad: string[] = [];
    for (const row of rows) {
      const f = row.split('\t');
      const ok =
        f.length === 21 &&
        /^\d{10}\.\d{6}$/.test(f[0]!) &&
        /^(tcp|udp)$/.test(f[6]!) &&
        [3, 5, 9, 10, 14, 16, 17, 18, 19].every((i) => /^\d+$/.test(f[i]!)) &&
        Number(f[17]) >= Number(f[9]);
      if (!ok) bad.push(row);
      uids.add(f[1]!);
    }
    expect(bad).toEqual([]);
    expect(uids.size).toBe(rows.length);
  });

  it('writes VPC flow logs v2 with a header and 14 fields, one line per direction', () => {
    const { lines, data } = write('vpc');
    expect(lines[0]).toBe(VPC_FIELDS.join(' '));
    expect(lines.length - 1).toBe(data);
    let previousStart = 0;
    const bad: string[] = [];
    for (const row of lines.slice(1)) {
      const f = row.split(' ');
      const ok =
        f.length === 14 &&
        f[0] === '2' &&
        /^(6|17)$/.test(f[7]!) &&
        Number(f[11]) >= Number(f[10]) &&
        Number(f[10]) >= previousStart &&
        f[12] === 'ACCEPT' &&
        f[13] === 'OK';
      if (!ok) bad.push(row);
      previousStart = Number(f[10]);
    }
    expect(bad).toEqual([]);
  });

  it('splits a long connection into aggregation windows and keeps its byte totals', () => {
    const conn: Conn = {
      ts: 1_781_000_000_000,
      durationMs: 25 * 60_000,
      host: '10.20.0.9',
      hostPort: 51413,
      remote: '100.64.1.2',
      remotePort: 6881,
      proto: 'tcp',
      hostOriginated: true,
      bytesOut: 1_000_001,
      bytesIn: 50_000_003,
      packetsOut: 20_000,
      packetsIn: 35_000,
      activity: 'bittorrent',
    };
    const lines = vpcLines(conn).map((l) => l.split(' '));
    expect(lines).toHaveLength(6);
    const outbound = lines.filter((f) => f[3] === '10.20.0.9');
    const inbound = lines.filter((f) => f[4] === '10.20.0.9');
    expect(outbound.reduce((n, f) => n + Number(f[8]), 0)).toBe(20_000);
    expect(inbound.reduce((n, f) => n + Number(f[9]) - Number(f[8]) * 40, 0)).toBe(50_000_003);
    expect(inbound.every((f) => f[5] === '6881' && f[6] === '51413')).toBe(true);
  });

  it('writes Squid native access.log lines of 10 fields in completion order', () => {
    const { lines, data } = write('squid');
    expect(lines).toHaveLength(data);
    let previous = 0;
    const bad: string[] = [];
    for (const row of lines) {
      const f = row.trim().split(/\s+/);
      const ok =
        f.length === SQUID_NATIVE_FIELD_COUNT &&
        /^\d{10}\.\d{3}$/.test(f[0]!) &&
        Number(f[0]) >= previous &&
        /^TCP_(MISS|TUNNEL)\/\d{3}$/.test(f[3]!) &&
        /^HIER_DIRECT\/\d+\.\d+\.\d+\.\d+$/.test(f[8]!) &&
        (f[5] === 'CONNECT' ? /:\d+$/.test(f[6]!) : /^https?:\/\//.test(f[6]!));
      if (!ok) bad.push(row);
      previous = Number(f[0]);
    }
    expect(bad).toEqual([]);
    const announces = lines.filter((l) => l.includes('/announce?info_hash='));
    expect(announces.length).toBeGreaterThan(0);
  });

  it('writes Squid combined lines that carry the client user agent', () => {
    const { lines, data } = write('squid-combined');
    expect(lines).toHaveLength(data);
    const combined = /^(\S+) - (\S+) \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "(\S+) (\S+) HTTP\/1\.1" (\d{3}) (\d+) "-" "([^"]+)" TCP_(MISS|TUNNEL):HIER_DIRECT$/;
    const bad = lines.filter((l) => !combined.test(l));
    expect(bad).toEqual([]);
    const agents = new Set(lines.filter((l) => l.includes('/announce?')).map((l) => combined.exec(l)?.[8] ?? ''));
    expect([...agents].every((a) => /^(Transmission|qBittorrent|aria2|uTorrent)\//.test(a))).toBe(true);
  });
});
