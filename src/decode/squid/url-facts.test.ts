import { describe, expect, test } from 'vitest';
import {
  bittorrentClientFromUserAgent,
  bittorrentEvidence,
  clientFromPeerId,
  decodeInfoHashParam,
  normalizeBtih,
  objectFacts,
  objectKind,
  parseUrl,
  sequenceOf,
  splitHostPort,
} from './url-facts.js';

describe('url parts', () => {
  test('scheme, host, port, path and query; host lowercased, user info dropped', () => {
    expect(parseUrl('HTTP://user:pw@Example.COM:8080/a/B.iso?x=1#frag')).toEqual({
      scheme: 'http',
      host: 'example.com',
      port: 8080,
      path: '/a/B.iso',
      query: 'x=1',
      origin: 'http://example.com:8080',
    });
    expect(parseUrl('https://[2001:DB8::1]/x')).toMatchObject({ host: '2001:db8::1', port: 443, origin: 'https://[2001:db8::1]' });
    expect(parseUrl('http://example.com')).toMatchObject({ path: '/', query: '' });
    expect(parseUrl('example.com:443')).toBeUndefined();
    expect(parseUrl('error:invalid-request')).toBeUndefined();
    expect(parseUrl('http://:80/')).toBeUndefined();
  });

  test('CONNECT targets', () => {
    expect(splitHostPort('Files.Example.com:443')).toEqual({ host: 'files.example.com', port: 443 });
    expect(splitHostPort('[2001:db8::1]:8443')).toEqual({ host: '2001:db8::1', port: 8443 });
    expect(splitHostPort('host:99999')).toBeUndefined();
    expect(splitHostPort('host:abc')).toBeUndefined();
  });
});

describe('bittorrent evidence', () => {
  const hash = '%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A';

  test('tracker announce: info hash from 20 escaped bytes, peer id, client, tracker URL', () => {
    const url = `http://tr.example.org:6969/announce?info_hash=${hash}&peer_id=-UT3550-%01%02abcdefghij&port=6881`;
    const app = bittorrentEvidence(url, parseUrl(url), 'text/plain', 'Mozilla/5.0');
    expect(app).toEqual({
      name: 'bittorrent',
      via: 'tracker',
      tracker: 'http://tr.example.org:6969/announce',
      infoHash: '123456789abcdef123456789abcdef123456789a',
      peerId: '-UT3550-..abcdefghij',
      client: 'uTorrent',
    });
  });

  test('scrape with several hashes keeps them all', () => {
    const other = '%AA'.repeat(20);
    const url = `http://tr.example.org/scrape?info_hash=${hash}&info_hash=${other}`;
    const app = bittorrentEvidence(url, parseUrl(url), undefined, undefined)!;
    expect(app.via).toBe('tracker');
    expect(app.infoHashes).toEqual(['123456789abcdef123456789abcdef123456789a', 'aa'.repeat(20)]);
  });

  test('a page named announce without info_hash is no tracker', () => {
    const url = 'http://news.example.com/announce?id=3';
    expect(bittorrentEvidence(url, parseUrl(url), 'text/html', 'Mozilla/5.0')).toBeUndefined();
  });

  test('info hash parameter must be 20 bytes', () => {
    expect(decodeInfoHashParam('%12%34')).toBeUndefined();
    expect(decodeInfoHashParam('%zz' + 'a'.repeat(19))).toBeUndefined();
    expect(decodeInfoHashParam('A'.repeat(40))).toBe('a'.repeat(40));
  });

  test('magnet links in hex and base32, escaped or not', () => {
    expect(normalizeBtih('MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U')).toBe('6162636465666768696a6b6c6d6e6f7071727374');
    expect(normalizeBtih('ABCDEF0123456789ABCDEF0123456789ABCDEF01')).toBe('abcdef0123456789abcdef0123456789abcdef01');
    expect(normalizeBtih('tooshort')).toBeUndefined();
    const plain = 'http://x.example.com/r?m=magnet:?xt=urn:btih:ABCDEF0123456789ABCDEF0123456789ABCDEF01&dn=x';
    expect(bittorrentEvidence(plain, parseUrl(plain), undefined, undefined)).toEqual({
      name: 'bittorrent',
      via: 'magnet',
      infoHash: 'abcdef0123456789abcdef0123456789abcdef01',
    });
  });

  test('.torrent by extension or content type', () => {
    const url = 'http://dl.example.org/files/debian-12.iso.torrent';
    expect(bittorrentEvidence(url, parseUrl(url), 'application/octet-stream', undefined)?.via).toBe('torrent_file');
    const byType = 'http://dl.example.org/download.php?id=7';
    expect(bittorrentEvidence(byType, parseUrl(byType), 'application/x-bittorrent', 'Transmission/4.0.5')).toEqual({
      name: 'bittorrent',
      via: 'torrent_file',
      client: 'Transmission',
    });
  });

  test('client user agents (Emerging Threats P2P list and client defaults); browsers and aria2 are not', () => {
    const cases: [string, string | undefined][] = [
      ['uTorrent/3.5.5(46090)', 'uTorrent'],
      ['µTorrent/3.6', 'uTorrent'],
      ['uTorrentMac/1870(43796)', 'uTorrent'],
      ['BitTorrent/7.10.5(45785)', 'BitTorrent'],
      ['Transmission/3.00', 'Transmission'],
      ['Deluge 2.1.1', 'Deluge'],
      ['qBittorrent/4.6.3', 'qBittorrent'],
      ['Azureus 5.7.6.0;Windows 10;Java 1.8.0_66', 'Azureus'],
      ['libtorrent/2.0.9.0', 'libtorrent'],
      ['rtorrent/0.9.8/0.13.8', 'rtorrent'],
      ['Enhanced-CTorrent/dnh3.3.2', 'Enhanced CTorrent'],
      ['Mozilla/5.0 (Windows NT 10.0) Firefox/128.0', undefined],
      ['curl/8.5.0', undefined],
      ['aria2/1.37.0', undefined],
      ['Debian APT-HTTP/1.3 (2.6.1)', undefined],
    ];
    for (const [ua, client] of cases) expect(bittorrentClientFromUserAgent(ua), ua).toBe(client);
    expect(clientFromPeerId('-qB4630-xxxxxxxxxxxx')).toBe('qBittorrent');
    expect(clientFromPeerId('A2-1-37-0-xxxxxxxxxx')).toBe('aria2');
    expect(clientFromPeerId('xxxxxxxxxxxxxxxxxxxx')).toBeUndefined();
  });
});

describe('object facts', () => {
  test('kind from extension first, then content type', () => {
    expect(objectKind('/a/b.MKV', 'application/octet-stream')).toBe('media');
    expect(objectKind('/dump.tar.zst', undefined)).toBe('archive');
    expect(objectKind('/img/debian.iso', undefined)).toBe('disk_image');
    expect(objectKind('/paper.pdf', undefined)).toBe('document');
    expect(objectKind('/setup.msi', undefined)).toBe('executable');
    expect(objectKind('/x.torrent', undefined)).toBe('torrent');
    expect(objectKind('/download', 'video/mp4')).toBe('media');
    expect(objectKind('/download', 'application/zip')).toBe('archive');
    expect(objectKind('/v1.2/page', 'text/html; charset=utf-8')).toBe('other');
  });

  test('key: same object whoever fetched it (no query, host lowercased)', () => {
    const a = objectFacts(parseUrl('http://CDN.Example.net/v/Show-01.mp4?token=abc')!, undefined);
    const b = objectFacts(parseUrl('http://cdn.example.net/v/Show-01.mp4?token=xyz')!, undefined);
    expect(a.key).toBe('http://cdn.example.net/v/Show-01.mp4');
    expect(b.key).toBe(a.key);
    expect(a.sequence).toEqual({ stem: 'cdn.example.net/v/Show-#.mp4', n: 1 });
  });

  test('sequence: last number outside the extension and escapes', () => {
    expect(sequenceOf('h', '/scans/page-0042.jpg')).toEqual({ stem: 'h/scans/page-#.jpg', n: 42 });
    expect(sequenceOf('h', '/chunks/00017/data.bin')).toEqual({ stem: 'h/chunks/#/data.bin', n: 17 });
    expect(sequenceOf('h', '/movie.mp4')).toBeUndefined();
    expect(sequenceOf('h', '/caf%C3%A9.pdf')).toBeUndefined();
    expect(sequenceOf('h', '/a%2042.txt')).toEqual({ stem: 'h/a%20#.txt', n: 42 });
    expect(sequenceOf('h', '/x/1234567890123456789.bin')).toBeUndefined();
  });
});
