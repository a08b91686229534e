import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { sharedFixture } from '../../../test/support/env.js';
import { DecodeError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import { createSquidDecoder } from './index.js';

// The public Squid samples (../shared/fixtures/squid): every line is a record or a counted,
// named error, and the records carry what the lines say.

/** The field order of the extensive sample, as its producer's squid.conf declared it. */
const EXTENSIVE_FORMAT =
  '%ts.%03tu %6tr %>a %>p %Ss/%03>Hs %<st %>st %<sh %>sh %<bs %rm %ru %rv %un %Sh/%<a %<p %mt %ea %et ' +
  '"%{Referer}>h" "%{User-Agent}>h" "%{Host}>h" "%{X-Forwarded-For}>h" %<tt %note';

function decodeFixture(relative: string, logformat: string) {
  const path = sharedFixture(relative);
  if (!path) return undefined;
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const decoder = createSquidDecoder(relative, { logformat, max_line_length: 65536 });
  const records: FlowRecord[] = [];
  const errors = new Map<string, number>();
  for (const line of lines) {
    try {
      decoder.decodeLine(line, records);
    } catch (err) {
      expect(err).toBeInstanceOf(DecodeError);
      const reason = (err as DecodeError).reason;
      errors.set(reason, (errors.get(reason) ?? 0) + 1);
    }
  }
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  expect(records.length + errorCount).toBe(lines.length);
  return { lines, records, errors };
}

describe('public squid samples', () => {
  test('elastic native access.log: every line decodes', () => {
    const got = decodeFixture('squid/elastic-integrations-test-access.log', 'squid');
    if (!got) return;
    expect(got.records).toHaveLength(100);
    const first = got.records[0]!;
    expect(first).toMatchObject({
      tsEnd: 1157689312049,
      ts: 1157689312049 - 5006,
      src: '10.105.21.199',
      dst: '175.16.199.115',
      dstPort: 443,
      method: 'CONNECT',
      url: 'login.yahoo.com:443',
      serverName: 'login.yahoo.com',
      user: 'badeyek',
      status: 200,
      bytesIn: 19763,
      bytesOut: 0,
      source: { type: 'squid', id: 'squid/elastic-integrations-test-access.log' },
    });
    expect(first.object).toBeUndefined();
    // A cache hit never left the proxy: no origin server address.
    const hit = got.records.find((r) => r.url === 'http://www.goonernews.com/styles.css' && r.status === 200)!;
    expect(hit.dst).toBe('');
    expect(hit.contentType).toBe('text/css');
    // Denied requests (407) are still facts.
    expect(got.records.some((r) => r.status === 407)).toBe(true);
    for (const r of got.records) {
      expect(r.tsEnd - r.ts).toBeGreaterThanOrEqual(0);
      expect(r.proto).toBe(6);
    }
  });

  test('elastic extensive logformat: ports, request sizes and user agents', () => {
    const got = decodeFixture('squid/elastic-integrations-test-access-extensive.log', EXTENSIVE_FORMAT);
    if (!got) return;
    expect(got.records).toHaveLength(got.lines.length);
    expect(got.records[0]).toMatchObject({
      src: '10.105.21.199',
      srcPort: 58938,
      dst: '203.0.113.10',
      dstPort: 80,
      bytesIn: 904,
      bytesOut: 123,
      userAgent: 'curl/8.14.1',
      user: 'badeyek',
    });
    const tunnel = got.records[1]!;
    expect(tunnel).toMatchObject({ method: 'CONNECT', serverName: 'www.google.com', dstPort: 443, bytesIn: 28854, bytesOut: 2051 });
    const firefox = got.records.filter((r) => r.userAgent?.startsWith('Mozilla/5.0'));
    expect(firefox).toHaveLength(2);
  });

  test('netdata fuzz set: garbage and invalid clients are counted, the rest decodes', () => {
    const got = decodeFixture('squid/netdata-godplugin-fuzz-access.log', 'squid');
    if (!got) return;
    const garbage = got.lines.filter((l) => l.startsWith('Unmatched!')).length;
    expect(got.errors.get('format_mismatch')).toBe(garbage);
    // `localhost` and `2001:db8:2ce:1` are no addresses: a client must be one.
    const invalidClients = got.lines.filter((l) => /^\d+\.\d+\s+\d+ (localhost|2001:db8:2ce:\d) /.test(l)).length;
    expect(got.errors.get('bad_client')).toBe(invalidClients);
    expect(got.records.length).toBe(got.lines.length - garbage - invalidClients);
    for (const r of got.records) {
      expect(['203.0.113.1', '203.0.113.2']).toContain(r.src);
      expect(r.serverName).toBe('localhost');
    }
  });
});
