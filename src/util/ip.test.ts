import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/support/random.js';
import { CidrSet, IPv4TextCache, formatIPv4, formatIPv6, formatIPv6At, ipv6Bytes, parseCidr, parseIPv4, parseIPv6 } from './ip.js';

describe('ip', () => {
  it('parses and formats IPv4', () => {
    expect(parseIPv4('10.20.0.7')).toBe(0x0a140007);
    expect(formatIPv4(0x0a140007)).toBe('10.20.0.7');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1']) expect(parseIPv4(bad), bad).toBe(-1);
  });

  it('gives the text of every octet width from its cache, the same text again for the same address', () => {
    const cache = new IPv4TextCache(4);
    const random = seededRandom(0x4e7);
    const addresses = [0, 0xffffffff, 0x0a000001, 0x09630a64, 0xc0a80103];
    for (let n = 0; n < 500; n++) addresses.push(Math.floor(random() * 2 ** 32));
    for (const a of addresses) {
      const text = cache.text(a);
      expect(text).toBe([a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.'));
      expect(parseIPv4(text)).toBe(a);
      expect(cache.text(a)).toBe(text);
    }
  });

  it('parses IPv6 forms and formats canonically', () => {
    expect(formatIPv6(parseIPv6('2001:0db8:0000:0000:0000:0000:0000:0001')!)).toBe('2001:db8::1');
    expect(formatIPv6(parseIPv6('::')!)).toBe('::');
    expect(formatIPv6(parseIPv6('::ffff:192.0.2.1')!)).toBe('::ffff:192.0.2.1');
    expect(formatIPv6(parseIPv6('::ffff:c000:201')!)).toBe('::ffff:192.0.2.1');
    expect(parseIPv6('fe80::1%eth0')).toBe(parseIPv6('fe80::1'));
    for (const bad of ['1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', ':']) expect(parseIPv6(bad), bad).toBeUndefined();
  });

  it('writes address bytes as RFC 5952 text: the URL serializer\'s, IPv4-mapped in mixed notation', () => {
    const cases = ['::', '::1', '1::', '2001:db8::1', '2001:db8:0:1:1:1:1:1', '2001:0:0:1:0:0:0:1', '1:0:0:2:0:0:3:4', 'fe80::1:0:0:0', '::ffff:0:c000:201', 'ff02::fb', '::c000:201', '0:0:0:0:1:ffff:a00:1'];
    const addresses = cases.map((text) => ipv6Bytes(parseIPv6(text)!));
    const random = seededRandom(0x1f6);
    for (let n = 0; n < 2000; n++) {
      const b = new Uint8Array(16);
      // Groups are zero half the time, so runs of every length and position occur.
      for (let g = 0; g < 8; g++) if (random() < 0.5) b.set([Math.floor(random() * 256), Math.floor(random() * 256)], g * 2);
      addresses.push(b);
    }
    for (const b of addresses) {
      const text = formatIPv6At(b, 0);
      const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
      expect(text).toBe(mapped ? `::ffff:${b.slice(12).join('.')}` : new URL(`http://[${text}]/`).hostname.slice(1, -1));
      expect(parseIPv6(text)).toBe(parseIPv6(formatIPv6(parseIPv6(text)!)));
    }
    const padded = new Uint8Array([9, 9, 9, ...ipv6Bytes(parseIPv6('2001:db8::1')!)]);
    expect(formatIPv6At(padded, 3)).toBe('2001:db8::1');
    expect(formatIPv6At(ipv6Bytes(parseIPv6('::ffff:10.0.0.1')!), 0)).toBe('::ffff:10.0.0.1');
  });

  it('finds the most specific CIDR for v4, v6 and v4-mapped v6', () => {
    const set = new CidrSet<string>();
    set.add(parseCidr('10.0.0.0/8'), 'wide');
    set.add(parseCidr('10.20.0.0/16'), 'narrow');
    set.add(parseCidr('2001:db8::/32'), 'v6');
    expect(set.lookup('10.20.3.4')).toBe('narrow');
    expect(set.lookup('10.21.3.4')).toBe('wide');
    expect(set.lookup('11.0.0.1')).toBeUndefined();
    expect(set.lookup('2001:db8:1::9')).toBe('v6');
    expect(set.lookup('::ffff:10.20.0.1')).toBe('narrow');
    expect(set.lookup('not-an-ip')).toBeUndefined();
  });

  it('rejects bad prefixes', () => {
    expect(() => parseCidr('10.0.0.0/33')).toThrow();
    expect(() => parseCidr('10.0.0.0/')).toThrow();
    expect(() => parseCidr('::/129')).toThrow();
    expect(parseCidr('0.0.0.0/0').v4Mask).toBe(0);
  });
});
