import { describe, expect, test } from 'vitest';
import { EgressdError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import { Enricher, approvedSourcesSchema, networksSchema } from '../../enrich/index.js';
import { squidFormatSchema } from './config.js';
import { compileLogformat, createSquidDecoder, parseLogTime } from './index.js';
import { reasonOf } from '../../sources/file/testing.js';

function decode(line: string, logformat = 'squid'): FlowRecord {
  const out: FlowRecord[] = [];
  createSquidDecoder('t', { logformat, max_line_length: 65536 }).decodeLine(line, out);
  expect(out).toHaveLength(1);
  return out[0]!;
}

function reason(line: string, logformat = 'squid'): string {
  return reasonOf(() => createSquidDecoder('t', { logformat, max_line_length: 200 }).decodeLine(line, [])) ?? 'decoded';
}

describe('logformat compiler', () => {
  test('predefined names and squid.conf directive lines compile', () => {
    for (const name of ['squid', 'common', 'combined', 'referrer', 'useragent']) expect(() => compileLogformat(name)).not.toThrow();
    const f = compileLogformat('logformat mine %ts.%03tu %>a %ru');
    expect(f.source).toBe('%ts.%03tu %>a %ru');
  });

  test('unknown codes, missing client or time, and adjacent codes are config errors', () => {
    expect(() => compileLogformat('%ts %>a %zz')).toThrow(EgressdError);
    expect(() => compileLogformat('%ts %ru')).toThrow(/client/);
    expect(() => compileLogformat('%>a %ru')).toThrow(/time/);
    expect(() => compileLogformat('%ts%>a')).toThrow(/follow each other/);
    const parsed = squidFormatSchema.safeParse({ logformat: '%ts %>a %bogus' });
    expect(parsed.success).toBe(false);
  });

  test('config schema defaults', () => {
    expect(squidFormatSchema.parse({})).toEqual({ logformat: 'squid', max_line_length: 65536 });
  });

  test('namespaced codes, %% and {arg} after the code are accepted', () => {
    const rec = decode('1700000000.000 10.0.0.1 100% sni.example.com http://a.example.com/', '%ts.%03tu %>a 100%% %ssl::>sni %ru');
    expect(rec.serverName).toBe('a.example.com');
    const ua = decode('1700000000.000 10.0.0.1 "Transmission/4.0"', '%ts.%03tu %>a "%>h{User-Agent}"');
    expect(ua.userAgent).toBe('Transmission/4.0');
  });
});

describe('squid decoder', () => {
  test('times: ts = log time - elapsed; %tl with zone', () => {
    const rec = decode('1700000000.500   1500 10.0.0.1 TCP_MISS/200 10 GET http://a.example.com/ - HIER_DIRECT/198.51.100.1 -');
    expect(rec.tsEnd).toBe(1_700_000_000_500);
    expect(rec.ts).toBe(1_699_999_999_000);
    expect(parseLogTime('10/Jun/2024:10:00:00 +0200')).toBe(Date.UTC(2024, 5, 10, 8));
    expect(parseLogTime('10/Jun/2024:10:00:00')).toBe(Date.UTC(2024, 5, 10, 10));
    expect(parseLogTime('10/Jux/2024:10:00:00 +0000')).toBeNaN();
    const started = decode('1700000000.250 40 10.0.0.1 http://a.example.com/', '%tS %tr %>a %ru');
    expect([started.ts, started.tsEnd]).toEqual([1_700_000_000_250, 1_700_000_000_290]);
  });

  test('bytes: reply size is what the client downloaded; request size is what it sent', () => {
    const rec = decode('1700000000.000 5 10.0.0.1 3000 120 http://a.example.com/', '%ts.%03tu %tr %>a %<st %>st %ru');
    expect([rec.bytesIn, rec.bytesOut]).toEqual([3000, 120]);
    const enricher = new Enricher(networksSchema.parse({}), approvedSourcesSchema.parse({ sources: [] }));
    expect(enricher.enrich(rec)).toBe(true);
    expect(rec.host).toBe('10.0.0.1');
    expect(rec.remote).toEqual({ ip: '', port: 80, name: 'a.example.com' });
    expect([rec.bytesIn, rec.bytesOut]).toEqual([3000, 120]);
  });

  test('approved sources match the URL host by domain suffix and by URL prefix', () => {
    const enricher = new Enricher(
      networksSchema.parse({}),
      approvedSourcesSchema.parse({
        sources: [
          { name: 'mirror', owner: 'it', match: { domains: ['mirror.example.org'] } },
          { name: 'datasets', owner: 'ml', match: { url_prefixes: ['https://data.example.com/public/'] } },
        ],
      }),
    );
    const a = decode('1700000000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://ftp.Mirror.example.org/debian.iso - HIER_DIRECT/198.51.100.1 -');
    enricher.enrich(a);
    expect(a.approval).toMatchObject({ name: 'mirror', matchedBy: 'domain' });
    const b = decode('1700000000.000 1 10.0.0.1 TCP_MISS/200 1 GET https://DATA.example.com/public/x.parquet - HIER_DIRECT/198.51.100.1 -');
    enricher.enrich(b);
    expect(b.approval).toMatchObject({ name: 'datasets', matchedBy: 'url_prefix' });
  });

  test('a peer cache address is not the origin server', () => {
    const viaParent = decode('1700000000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://a.example.com/ - FIRSTUP_PARENT/10.9.9.9 -');
    expect(viaParent.dst).toBe('');
    const direct = decode('1700000000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://a.example.com/ - HIER_DIRECT/198.51.100.1 -');
    expect(direct.dst).toBe('198.51.100.1');
  });

  test('an IP literal in the URL is the server, not a name', () => {
    const rec = decode('1700000000.000 1 10.0.0.1 TCP_HIT/200 1 GET http://198.51.100.3:8080/f - HIER_NONE/- -');
    expect(rec.dst).toBe('198.51.100.3');
    expect(rec.dstPort).toBe(8080);
    expect(rec.serverName).toBeUndefined();
  });

  test('CONNECT: host and port, bytes, no object', () => {
    const rec = decode('1700000000.000 9000 10.0.0.1 TCP_TUNNEL/200 5000000 CONNECT Big.Example.com:8443 - HIER_DIRECT/198.51.100.2 -');
    expect(rec).toMatchObject({ serverName: 'big.example.com', dstPort: 8443, bytesIn: 5_000_000, method: 'CONNECT' });
    expect(rec.object).toBeUndefined();
    expect(rec.app).toBeUndefined();
  });

  test('users: `-` is none, Squid-escaped names are decoded, other identities are fallbacks', () => {
    expect(decode('1700000000.000 1 10.0.0.1 NONE/000 0 GET http://a.example.com/ - HIER_NONE/- -').user).toBeUndefined();
    expect(decode('1700000000.000 1 10.0.0.1 NONE/000 0 GET http://a.example.com/ j%20doe HIER_NONE/- -').user).toBe('j doe');
    const ident = decode('10.0.0.1 carol - [10/Jun/2024:10:00:00 +0000] "GET http://a.example.com/ HTTP/1.1" 200 1 TCP_MISS:HIER_DIRECT', 'common');
    expect(ident.user).toBe('carol');
  });

  test('named errors', () => {
    expect(reason('')).toBe('empty_line');
    expect(reason('x'.repeat(201))).toBe('line_too_long');
    expect(reason('1700000000.000 1 10.0.0.1 \u0000 junk')).toBe('binary');
    expect(reason('1700000000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -\r')).toBe('decoded');
    expect(reason('just some words')).toBe('format_mismatch');
    expect(reason('1700000000.000 1 not-an-ip TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -')).toBe('bad_client');
    expect(reason('1700000000.9999 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -')).toBe('bad_timestamp');
    expect(reason('1700000000.000 x 10.0.0.1 TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -')).toBe('bad_number');
    expect(reason('1700000000.000 1 10.0.0.1 TCP_MISS/2x0 1 GET http://a/ - HIER_NONE/- -')).toBe('bad_number');
    expect(reason('1700000000.000 0 10.0.0.1 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -')).toBe('no_request');
    // A format without a URL has no requests to miss.
    expect(reason('10.0.0.1 [10/Jun/2024:10:00:00 +0000] "curl/8.0"', 'useragent')).toBe('decoded');
  });
});
