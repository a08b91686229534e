import { describe, expect, it } from 'vitest';
import { CidrSet, formatIPv4, formatIPv6, parseCidr, parseIPv4, parseIPv6 } from './ip.js';

describe('ip', () => {
  it('parses and formats IPv4', () => {
    expect(parseIPv4('10.20.0.7')).toBe(0x0a140007);
    expect(formatIPv4(0x0a140007)).toBe('10.20.0.7');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1']) expect(parseIPv4(bad), bad).toBe(-1);
  });

  it('parses IPv6 forms and formats canonically', () => {
    expect(formatIPv6(parseIPv6('2001:0db8:0000:0000:0000:0000:0000:0001')!)).toBe('2001:db8::1');
    expect(formatIPv6(parseIPv6('::')!)).toBe('::');
    expect(formatIPv6(parseIPv6('::ffff:192.0.2.1')!)).toBe('::ffff:c000:201');
    expect(parseIPv6('fe80::1%eth0')).toBe(parseIPv6('fe80::1'));
    for (const bad of ['1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9', ':']) expect(parseIPv6(bad), bad).toBeUndefined();
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
