import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../record.js';
import { golden } from '../../sources/file/golden.js';
import { collectReplay, goldenText, reasonOf } from '../../sources/file/testing.js';
import { DEFAULT_FIELDS, createVpcDecoder } from './index.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');

describe('vpc flow logs golden replay', () => {
  for (const name of ['default-v2', 'custom-header']) {
    it(`${name}.log matches its baseline`, async () => {
      const outcome = await collectReplay(createReadStream(join(testdata, `${name}.log`)), createVpcDecoder('acct-1'));
      const { expected, actual } = golden(join(testdata, `${name}.golden.jsonl`), goldenText(outcome));
      expect(actual).toBe(expected);
    });
  }
});

describe('vpc decoder', () => {
  const line = '2 123456789010 eni-1 10.0.0.5 192.0.2.9 40000 443 6 12 3400 1700000000 1700000060 ACCEPT OK';

  it('maps the default v2 format, one direction per line', () => {
    const out: FlowRecord[] = [];
    createVpcDecoder('a').decodeLine(line, out);
    expect(out).toEqual([
      {
        ts: 1700000000000,
        tsEnd: 1700000060000,
        src: '10.0.0.5',
        srcPort: 40000,
        dst: '192.0.2.9',
        dstPort: 443,
        proto: 6,
        bytesOut: 3400,
        bytesIn: 0,
        packetsOut: 12,
        packetsIn: 0,
        source: { type: 'vpc', id: 'a' },
      },
    ]);
  });

  it('follows the field order of a header line, with - or _ in the names', () => {
    for (const sep of ['-', '_']) {
      const dec = createVpcDecoder('a');
      const out: FlowRecord[] = [];
      dec.decodeLine(['start', 'end', 'srcaddr', 'dstaddr', 'bytes', `log${sep}status`].join(' '), out);
      dec.decodeLine('1700000000 1700000001 10.0.0.5 192.0.2.9 77 OK', out);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ ts: 1700000000000, tsEnd: 1700000001000, src: '10.0.0.5', dst: '192.0.2.9', bytesOut: 77, srcPort: 0, proto: 0 });
      expect(reasonOf(() => dec.decodeLine(line, out))).toBe('field_count');
    }
  });

  it('takes all default fields in AWS order when a headerless line has more than 14', () => {
    const extra = ['vpc-1', 'subnet-1', 'i-1', '2', 'IPv4', '10.0.0.5', '203.0.113.5'];
    const out: FlowRecord[] = [];
    createVpcDecoder('a').decodeLine([line, ...extra].join(' '), out);
    expect(DEFAULT_FIELDS[19]).toBe('pkt-srcaddr');
    expect(out[0]).toMatchObject({ src: '10.0.0.5', dst: '203.0.113.5' });
  });

  it('counts windows without transfer by name', () => {
    const dec = createVpcDecoder('a');
    expect(reasonOf(() => dec.decodeLine('2 1 eni-1 - - - - - - - 1700000000 1700000060 - NODATA', []))).toBe('nodata');
    expect(reasonOf(() => dec.decodeLine('2 1 eni-1 - - - - - - - 1700000000 1700000060 - SKIPDATA', []))).toBe('skipdata');
    expect(reasonOf(() => dec.decodeLine(line.replace('ACCEPT', 'REJECT'), []))).toBe('rejected');
    expect(reasonOf(() => dec.decodeLine(line.replace('10.0.0.5', '10.0.0.256'), []))).toBe('bad_address');
    expect(reasonOf(() => dec.decodeLine(line.replace('40000', '65536'), []))).toBe('bad_port');
    expect(reasonOf(() => dec.decodeLine(line.replace(' 6 ', ' 256 '), []))).toBe('bad_proto');
    expect(reasonOf(() => dec.decodeLine(line.replace('1700000000', '17e8'), []))).toBe('bad_timestamp');
    expect(reasonOf(() => dec.decodeLine('2 1 eni-1 10.0.0.5', []))).toBe('field_count');
  });

  it('refuses a header without addresses', () => {
    expect(reasonOf(() => createVpcDecoder('a').decodeLine('version account-id start end', []))).toBe('bad_header');
  });
});
