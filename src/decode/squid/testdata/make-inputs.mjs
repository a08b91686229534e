// Writes the golden inputs in this folder: hand-made Squid lines in each logformat, plus odd
// lines (IPv6 clients, `-` fields, URL-escaped text, a very long URL, binary junk, an
// over-long line for an 8 KiB limit). Run from the repo root: node src/decode/squid/testdata/make-inputs.mjs
// The expected records are then refreshed with UPDATE_GOLDEN=1 and reviewed by hand.
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const hash20 = '%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A'; // 123456789abcdef123456789abcdef123456789a
const longPath = '/' + Array.from({ length: 400 }, (_, i) => `seg${i}`).join('/') + '/file-0007.jpg';
const binary = Buffer.from([0x31, 0x37, 0x00, 0x01, 0xff, 0xfe, 0x20, 0x67, 0x61, 0x72, 0x62, 0x61, 0x67, 0x65]);
const tooLong = '1718000000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://example.com/' + 'a'.repeat(9_000) + ' - HIER_NONE/- -';

function write(name, lines) {
  const parts = lines.map((l) => (Buffer.isBuffer(l) ? l : Buffer.from(l, 'utf8')));
  const out = [];
  for (const p of parts) out.push(p, Buffer.from('\n'));
  writeFileSync(join(here, name), Buffer.concat(out));
}

write('native.log', [
  '1718000000.123    250 10.20.0.7 TCP_MISS/200 1048576 GET http://cdn.example.net/videos/show-s01e0042.mkv alice HIER_DIRECT/198.51.100.7 video/x-matroska',
  `1718000001.000     80 10.20.0.7 TCP_MISS/200 5120 GET http://Tracker.Example.org:6969/announce?info_hash=${hash20}&peer_id=-TR3000-abcdefghijkl&port=51413&event=started - HIER_DIRECT/203.0.113.9 text/plain`,
  '1718000002.500   1200 10.20.0.8 TCP_TUNNEL/200 88211 CONNECT files.example.com:443 bob HIER_DIRECT/198.51.100.20 -',
  '1718000003.000     15 2001:db8::42 TCP_MISS/200 20480 GET http://torrents.example.org/get/ubuntu-24.04-desktop-amd64.iso.torrent - HIER_DIRECT/2001:db8::1 application/x-bittorrent',
  '1718000004.000     10 10.20.0.9 TCP_MISS/302 512 GET http://search.example.org/go?to=magnet%3A%3Fxt%3Durn%3Abtih%3AMFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U%26dn%3Dx - HIER_DIRECT/203.0.113.50 text/html',
  '1718000005.000      5 10.20.0.9 TCP_DENIED/407 3911 GET http://example.com/caf%C3%A9/men%C3%BC.pdf CORP%5Cjdoe HIER_NONE/- text/html',
  '1718000006.000    100 10.20.0.10 TCP_MISS/200 1000 GET http://example.com/x - FIRSTUP_PARENT/10.0.0.1 text/html',
  '1718000007.000      0 10.20.0.11 NONE/000 0 NONE error:invalid-request - HIER_NONE/- -',
  `1718000008.000      3 10.20.0.12 TCP_MISS/200 7000 GET http://img.example.com${longPath} - HIER_DIRECT/198.51.100.9 image/jpeg`,
  '1718000009.000      3 [::1] TCP_MISS/200 7000 GET http://img.example.com/a.jpg - HIER_DIRECT/198.51.100.9 image/jpeg',
  '17180000x9.000      3 10.20.0.12 TCP_MISS/200 7000 GET http://img.example.com/a.jpg - HIER_DIRECT/198.51.100.9 image/jpeg',
  '1718000010.000      3 10.20.0.12 TCP_MISS/200 7k GET http://img.example.com/a.jpg - HIER_DIRECT/198.51.100.9 image/jpeg',
  'hello world',
  binary,
  tooLong,
  '1718000011.000      9 10.20.0.13 TCP_MISS/200 734003200 GET http://203.0.113.80/dumps/enwiki-20240601-pages-articles-multistream.xml.bz2 - HIER_DIRECT/203.0.113.80 application/x-bzip2',
]);

write('common.log', [
  '10.20.0.7 - alice [10/Jun/2024:08:13:20 +0000] "GET http://cdn.example.net/a/part-001.zip HTTP/1.1" 200 734003200 TCP_MISS:HIER_DIRECT',
  '2001:db8::7 - - [10/Jun/2024:10:13:21 +0200] "CONNECT tracker.example.org:443 HTTP/1.1" 200 4000 TCP_TUNNEL:HIER_DIRECT',
  `10.20.0.8 - - [10/Jun/2024:08:13:22 +0000] "GET http://t.example.org/announce.php?passkey=x&info_hash=${hash20}&peer_id=-qB4630-123456789012 HTTP/1.1" 200 321 TCP_MISS:HIER_DIRECT`,
  '10.20.0.9 - - [10/Jun/2024:08:13:23 +0000] "- - HTTP/0.0" 400 0 NONE:HIER_NONE',
  '10.20.0.9 - - [31/Foo/2024:08:13:23 +0000] "GET http://example.com/ HTTP/1.1" 200 1 TCP_MISS:HIER_DIRECT',
  '10.20.0.9 - - [10/Jun/2024:08:13:23 +0000] "GET http://example.com/ HTTP/1.1" 200 1',
]);

write('combined.log', [
  '10.20.0.7 - - [10/Jun/2024:08:13:20 +0000] "GET http://tracker.example.org/announce?info_hash=' + hash20 + ' HTTP/1.1" 200 120 "-" "Transmission/3.00" TCP_MISS:HIER_DIRECT',
  '10.20.0.8 - - [10/Jun/2024:08:13:21 +0000] "GET http://updates.example.com/check HTTP/1.1" 200 90 "-" "uTorrent/3.5.5(46090)" TCP_MISS:HIER_DIRECT',
  '10.20.0.9 - dave [10/Jun/2024:08:13:22 +0000] "GET http://www.example.com/season-2/episode-10.mp4 HTTP/1.1" 206 52428800 "http://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64) "quoted" Firefox/128.0" TCP_MISS:HIER_DIRECT',
  '10.20.0.9 - - [10/Jun/2024:08:13:23 +0000] "GET http://files.example.com/setup.exe HTTP/1.1" 200 1000 "-" "aria2/1.37.0" TCP_MISS:HIER_DIRECT',
  '10.20.0.9 - - [10/Jun/2024:08:13:24 +0000] "GET http://files.example.com/ HTTP/1.1" 200 1000 "-" TCP_MISS:HIER_DIRECT',
]);

// custom.logformat holds the format; the lines exercise %tl with a space, %>A, %<A, %"ru, %>st.
writeFileSync(
  join(here, 'custom.logformat'),
  '%tl %>a %>A %>p %un %<A %<a %<p %Ss/%03>Hs %<st %>st %6tr %rm %"ru "%{User-Agent}>h" %mt\n',
);
write('custom.log', [
  '10/Jun/2024:08:13:20 +0000 10.20.0.7 ws7.corp.example 50123 alice cdn.example.net 198.51.100.7 443 TCP_MISS/200 2097152 420    350 GET "https://cdn.example.net/Books/Vol%2001/book-12.epub?sig=abc" "Deluge 2.1.1" application/epub+zip',
  '10/Jun/2024:08:13:21 +0000 10.20.0.7 - 50124 - - - - TCP_DENIED/403 300 200      1 GET "http://blocked.example.com/q?a=\\"b\\"" "-" text/html',
  '10/Jun/2024:08:13:22 +0000 fe80::1%eth0 - 1 - - - - TCP_MISS/200 1 1      1 GET "http://x.example.com/" "curl/8.0" -',
  '10/Jun/2024:08:13:23 +0000 10.20.0.8 - 2 - - - - TCP_MISS/200 1 1      1 GET "http://x.example.com/ "curl/8.0" -',
]);
