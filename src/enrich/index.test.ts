import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../record.js';
import { approvedSourcesSchema, Enricher, networksSchema } from './index.js';

function record(partial: Partial<FlowRecord>): FlowRecord {
  return {
    ts: Date.parse('2026-06-11T09:00:00Z'),
    tsEnd: Date.parse('2026-06-11T09:00:10Z'),
    src: '10.1.2.3',
    srcPort: 50000,
    dst: '203.0.113.9',
    dstPort: 443,
    proto: 6,
    bytesOut: 100,
    bytesIn: 5000,
    packetsOut: 2,
    packetsIn: 5,
    source: { type: 'zeek', id: 'test' },
    ...partial,
  };
}

const enricher = new Enricher(
  networksSchema.parse({ internal: ['10.0.0.0/8', { cidr: 'fd00::/8', name: 'v6' }], exclude: ['10.99.0.0/16'] }),
  approvedSourcesSchema.parse({
    sources: [
      { name: 'mirror', owner: 'it', match: { domains: ['Example.COM'], cidrs: ['198.51.100.0/24'] } },
      { name: 'bucket', owner: 'backup', match: { url_prefixes: ['https://store.example.net/backups/'] } },
      { name: 'iso', owner: 'it', expires: '2026-01-31', match: { info_hashes: ['dcfcdccfb9e670ccc3dd40c78c161f2bea243126'] } },
      { name: 'old', owner: 'it', expires: '2026-12-31', match: { trackers: ['http://torrent.ubuntu.com'] } },
      { name: 'distro', owner: 'it', match: { trackers: ['tracker.debian.org'] } },
    ],
  }),
);

describe('Enricher', () => {
  it('orients an outbound record around its internal host', () => {
    const rec = record({});
    expect(enricher.enrich(rec)).toBe(true);
    expect(rec.host).toBe('10.1.2.3');
    expect(rec.remote).toEqual({ ip: '203.0.113.9', port: 443 });
    expect(rec.bytesIn).toBe(5000);
    expect(rec.approval).toBeNull();
  });

  it('swaps directions when the internal host is the destination', () => {
    const rec = record({ src: '203.0.113.9', srcPort: 443, dst: '10.1.2.3', dstPort: 50000, bytesOut: 5000, bytesIn: 100, packetsOut: 5, packetsIn: 2 });
    enricher.enrich(rec);
    expect(rec.host).toBe('10.1.2.3');
    expect(rec.remote?.ip).toBe('203.0.113.9');
    expect([rec.bytesOut, rec.bytesIn, rec.packetsOut, rec.packetsIn]).toEqual([100, 5000, 2, 5]);
  });

  it('leaves internal-to-internal and excluded ranges without a host', () => {
    const internal = record({ dst: '10.9.9.9' });
    expect(enricher.enrich(internal)).toBe(false);
    expect(internal.host).toBeUndefined();
    const dmz = record({ src: '10.99.1.1' });
    expect(enricher.enrich(dmz)).toBe(false);
  });

  it('handles IPv6 internal ranges', () => {
    const rec = record({ src: 'fd00::1', dst: '2001:db8::5' });
    expect(enricher.enrich(rec)).toBe(true);
    expect(rec.host).toBe('fd00::1');
  });

  it('matches a domain suffix: the domain itself and its subdomains, not look-alikes', () => {
    for (const [name, expected] of [
      ['example.com', 'mirror'],
      ['cdn.EXAMPLE.com.', 'mirror'],
      ['notexample.com', null],
      ['example.com.evil.org', null],
    ] as const) {
      const rec = record({ serverName: name });
      enricher.enrich(rec);
      expect(rec.approval?.name ?? null, name).toBe(expected);
    }
  });

  it('matches CIDRs and URL prefixes, saying how', () => {
    const byCidr = record({ dst: '198.51.100.77' });
    enricher.enrich(byCidr);
    expect(byCidr.approval).toEqual({ name: 'mirror', owner: 'it', expired: false, matchedBy: 'cidr' });
    const byUrl = record({ url: 'https://STORE.example.net/backups/db.tar', serverName: 'store.example.net' });
    enricher.enrich(byUrl);
    expect(byUrl.approval?.matchedBy).toBe('url_prefix');
    const outside = record({ url: 'https://store.example.net/other/x' });
    enricher.enrich(outside);
    expect(outside.approval).toBeNull();
  });

  it('approves BitTorrent only by info hash or tracker, and marks expired approvals', () => {
    const peer = record({ dst: '198.51.100.5', app: { name: 'bittorrent', infoHash: 'ffffffffffffffffffffffffffffffffffffffff' } });
    enricher.enrich(peer);
    expect(peer.approval).toBeNull();
    const iso = record({ app: { name: 'bittorrent', infoHash: 'dcfcdccfb9e670ccc3dd40c78c161f2bea243126' } });
    enricher.enrich(iso);
    expect(iso.approval).toEqual({ name: 'iso', owner: 'it', expired: true, matchedBy: 'info_hash' });
    const tracker = record({ app: { name: 'bittorrent', tracker: 'http://torrent.ubuntu.com:6969/announce' } });
    enricher.enrich(tracker);
    expect(tracker.approval).toMatchObject({ name: 'old', expired: false, matchedBy: 'tracker' });
  });

  it('keeps an approval in force through its expiry day', () => {
    const lastDay = record({ ts: Date.parse('2026-01-31T23:00:00Z'), app: { name: 'bittorrent', infoHash: 'dcfcdccfb9e670ccc3dd40c78c161f2bea243126' } });
    enricher.enrich(lastDay);
    expect(lastDay.approval?.expired).toBe(false);
  });

  it('approves a tracker given as a bare host name by domain, whatever the announce URL', () => {
    for (const [tracker, expected] of [
      ['http://tracker.debian.org:6969/announce', 'distro'],
      ['udp://ipv6.tracker.debian.org:6969', 'distro'],
      ['http://tracker.debian.org.evil.net/announce', null],
      ['http://nottracker.debian.org/announce', null],
    ] as const) {
      const rec = record({ app: { name: 'bittorrent', tracker } });
      enricher.enrich(rec);
      expect(rec.approval?.name ?? null, tracker).toBe(expected);
    }
  });

  it('gives the same answers from its memo of IPv6 addresses and names, also once the memo started over', () => {
    const rules = [
      networksSchema.parse({ internal: ['10.0.0.0/8', { cidr: 'fd00::/8', name: 'v6' }], exclude: ['10.99.0.0/16', 'fd99::/16'] }),
      approvedSourcesSchema.parse({ sources: [{ name: 'mirror', owner: 'it', match: { domains: ['example.com'], cidrs: ['198.51.100.0/24', '2001:db8:1::/48'] } }] }),
    ] as const;
    const warm = new Enricher(...rules);
    const cases: Partial<FlowRecord>[] = [];
    // More distinct addresses and names than the memo holds, with the same few repeated between them.
    for (let i = 0; i < 5_000; i++) {
      cases.push({ dst: `203.0.${(i >> 8) & 255}.${i & 255}` }, { src: 'fd00::9', dst: `2001:db8:${i.toString(16)}::1`, serverName: `h${i}.example.${i % 2 ? 'com' : 'org'}` });
      cases.push({ dst: '198.51.100.7' }, { src: '10.99.0.1' }, { dst: '10.1.1.1' }, { src: 'fd99::1', dst: '2001:db8::1' });
      cases.push({ src: 'fd00::9', dst: '2001:db8::1', serverName: i % 2 ? 'cdn.example.com' : 'example.org' });
      cases.push({ src: '2001:db8:1::5', dst: 'fd00::7' }, { src: 'fd00::9', dst: '2001:db8:2::5' }, { dst: '', src: '10.1.1.1' });
      cases.push({ dst: '198.51.100.7', serverName: 'other.test' }, { src: '198.51.100.8', dst: '10.2.2.2' });
    }
    for (const partial of cases) {
      const once = record(partial);
      const repeated = record(partial);
      expect(warm.enrich(repeated)).toBe(new Enricher(...rules).enrich(once));
      expect(repeated).toEqual(once);
    }
  });

  it('answers from its memo of addresses as from the ranges, also once the memo started over', () => {
    const networks = networksSchema.parse({ internal: ['10.0.0.0/8', { cidr: 'fd00::/8', name: 'v6' }], exclude: ['10.99.0.0/16'] });
    const warm = new Enricher(networks, approvedSourcesSchema.parse({ sources: [] }));
    const expected = (ip: string): boolean => (ip.startsWith('10.') && !ip.startsWith('10.99.')) || ip.startsWith('fd00:');
    // Over 65,536 distinct addresses, each asked twice, with a few asked throughout.
    const addresses: string[] = [];
    for (let i = 0; i < 70_000; i++) addresses.push(`${i % 3 === 0 ? 10 : 203}.${i % 7 === 0 ? 99 : (i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const fixed = ['10.99.1.1', '10.1.1.1', 'fd00::1', '2001:db8::1', '', 'not an address'];
    const asked: string[] = [];
    for (let round = 0; round < 2; round++) {
      for (const [i, ip] of addresses.entries()) {
        asked.push(ip);
        if (i % 1000 === 0) asked.push(...fixed);
      }
    }
    const wrong = asked.filter((ip) => warm.isInternal(ip) !== expected(ip));
    expect(wrong).toEqual([]);
    expect(asked.filter((ip) => expected(ip)).length).toBeGreaterThan(40_000);
  });
});
