import { describe, expect, it } from 'vitest';
import { clientHello, dnsResponse } from './craft.js';
import { hostName, matchHttpRequest, matchTlsClientHello, parseDns } from './names.js';

describe('HTTP request', () => {
  it('method, target, Host and User-Agent; waits for the header block', () => {
    const req = Buffer.from('GET /files/a.iso?x=1 HTTP/1.1\r\nHost: Mirror.Example.org:8080\r\nUser-Agent: curl/8\r\n\r\n');
    expect(matchHttpRequest(req)).toEqual({ method: 'GET', target: '/files/a.iso?x=1', host: 'Mirror.Example.org:8080', userAgent: 'curl/8' });
    expect(matchHttpRequest(req.subarray(0, 20))).toBe('wait');
    expect(matchHttpRequest(Buffer.from('GE'))).toBe('wait');
    expect(matchHttpRequest(Buffer.from('HELLO there'))).toBe('no');
    expect(matchHttpRequest(Buffer.from('GET nonsense\r\n\r\n'))).toBe('no');
    expect(hostName('Mirror.Example.org:8080')).toBe('mirror.example.org');
    expect(hostName('[2001:db8::1]:80')).toBe('2001:db8::1');
  });
});

describe('TLS ClientHello', () => {
  it('SNI, also when the hello arrives in pieces', () => {
    const hello = clientHello('Downloads.Example.com');
    expect(matchTlsClientHello(hello)).toEqual({ sni: 'downloads.example.com' });
    expect(matchTlsClientHello(hello.subarray(0, 40))).toBe('wait');
    expect(matchTlsClientHello(Buffer.from([0x17, 3, 3, 0, 5]))).toBe('no');
  });
});

describe('DNS', () => {
  it('answers map addresses to the asked name', () => {
    const facts = parseDns(dnsResponse('cdn.example.net', '198.51.100.7'));
    expect(facts?.response).toBe(true);
    expect(facts?.question).toBe('cdn.example.net');
    expect(facts?.answers.map((a) => [a.name, [...a.address].join('.')])).toEqual([['cdn.example.net', '198.51.100.7']]);
    expect(parseDns(Buffer.from('not dns at all'))).toBeUndefined();
    const loop = dnsResponse('a.b', '192.0.2.1');
    loop[12] = 0xc0;
    loop[13] = 12; // a name pointing at itself
    expect(parseDns(loop)).toBeUndefined();
  });
});
