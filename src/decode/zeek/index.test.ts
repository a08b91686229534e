import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../record.js';
import { golden } from '../../sources/file/golden.js';
import { collectReplay, goldenText, reasonOf } from '../../sources/file/testing.js';
import { appFromService, createZeekDecoder } from './index.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');

describe('zeek conn.log golden replay', () => {
  for (const name of ['conn-tsv', 'conn-json']) {
    it(`${name}.log matches its baseline`, async () => {
      const outcome = await collectReplay(createReadStream(join(testdata, `${name}.log`)), createZeekDecoder('sensor-1'));
      const { expected, actual } = golden(join(testdata, `${name}.golden.jsonl`), goldenText(outcome));
      expect(actual).toBe(expected);
    });
  }
});

describe('zeek decoder', () => {
  const header = [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    '#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\torig_pkts\tresp_pkts',
  ];

  it('maps a TSV line by the header field order', () => {
    const dec = createZeekDecoder('s');
    const out: FlowRecord[] = [];
    for (const h of header) dec.decodeLine(h, out);
    dec.decodeLine('1700000000.5\t10.0.0.1\t1234\t192.0.2.1\t443\ttcp\tssl\t2.25\t10\t20\t3\t4', out);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      ts: 1700000000500,
      tsEnd: 1700000002750,
      src: '10.0.0.1',
      srcPort: 1234,
      dst: '192.0.2.1',
      dstPort: 443,
      proto: 6,
      bytesOut: 10,
      bytesIn: 20,
      packetsOut: 3,
      packetsIn: 4,
      app: { name: 'tls' },
      source: { type: 'zeek', id: 's' },
    });
  });

  it('takes ICMP over IPv6 as ICMPv6 when there is no ip_proto', () => {
    const dec = createZeekDecoder('s');
    const out: FlowRecord[] = [];
    for (const h of header) dec.decodeLine(h, out);
    dec.decodeLine('1700000000.5\t2001:db8::1\t128\t2001:db8::2\t129\ticmp\t-\t-\t-\t-\t-\t-', out);
    dec.decodeLine('1700000000.5\t10.0.0.1\t8\t192.0.2.1\t0\ticmp\t-\t-\t-\t-\t-\t-', out);
    expect(out.map((r) => r.proto)).toEqual([58, 1]);
  });

  it('refuses data before any header, and after #close', () => {
    const dec = createZeekDecoder('s');
    const out: FlowRecord[] = [];
    const line = '1700000000.5\t10.0.0.1\t1234\t192.0.2.1\t443\ttcp\t-\t-\t-\t-\t-\t-';
    expect(reasonOf(() => dec.decodeLine(line, out))).toBe('no_header');
    for (const h of header) dec.decodeLine(h, out);
    dec.decodeLine(line, out);
    dec.decodeLine('#close\t2026-01-01-00-00-00', out);
    expect(reasonOf(() => dec.decodeLine(line, out))).toBe('no_header');
    expect(out).toHaveLength(1);
  });

  it('names bad lines', () => {
    const dec = createZeekDecoder('s');
    const out: FlowRecord[] = [];
    for (const h of header) dec.decodeLine(h, out);
    expect(reasonOf(() => dec.decodeLine('1700000000.5\t10.0.0.1\t1234\t192.0.2.1\t443\ttcp', out))).toBe('field_count');
    expect(reasonOf(() => dec.decodeLine('1700000000.5\t10.0.0.1\t1234\t192.0.2.1\t443\ttcp\t-\t-\t-\t-\t-\t-\textra', out))).toBe('field_count');
    expect(reasonOf(() => dec.decodeLine('-1\t10.0.0.1\t1234\t192.0.2.1\t443\ttcp\t-\t-\t-\t-\t-\t-', out))).toBe('bad_timestamp');
    expect(reasonOf(() => dec.decodeLine('1\t10.0.0\t1234\t192.0.2.1\t443\ttcp\t-\t-\t-\t-\t-\t-', out))).toBe('bad_address');
    expect(reasonOf(() => dec.decodeLine('1\t10.0.0.1\tx\t192.0.2.1\t443\ttcp\t-\t-\t-\t-\t-\t-', out))).toBe('bad_port');
    expect(reasonOf(() => dec.decodeLine('{"ts":', out))).toBe('bad_json');
    expect(reasonOf(() => dec.decodeLine('{"ts":1}', out))).toBe('bad_address');
    expect(out).toHaveLength(0);
  });

  it('refuses a #fields header without the connection fields', () => {
    const dec = createZeekDecoder('s');
    expect(reasonOf(() => dec.decodeLine('#fields\tts\tquery', []))).toBe('bad_header');
    expect(reasonOf(() => dec.decodeLine('1\tx', []))).toBe('bad_header');
  });

  it('reads protocol evidence from the service set', () => {
    expect(appFromService('ssl')).toEqual({ name: 'tls' });
    expect(appFromService('http,ssl')).toEqual({ name: 'http' });
    expect(appFromService('-ssl,dns')).toEqual({ name: 'dns' });
    expect(appFromService('bittorrent')).toEqual({ name: 'bittorrent', via: 'handshake' });
    expect(appFromService('bittorrenttracker,http')).toEqual({ name: 'bittorrent', via: 'tracker' });
    expect(appFromService('-ssl')).toBeUndefined();
    expect(appFromService(undefined)).toBeUndefined();
  });
});
