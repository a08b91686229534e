import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../record.js';
import { clientHello, dnsResponse, handshake, ipv4Packet, ipv6Packet, tcpSegment, udpDatagram, utpHeader } from './craft.js';
import { IPv4TextCache, formatIPv4, ipv6Bytes, parseIPv6 } from '../../util/ip.js';
import { NetflowDecoder } from '../netflow/index.js';
import { ByteWriter, IPV6_FLOW_FIELDS, ipfixMessage, set, templateRecord } from '../netflow/testdata/datagrams.js';
import { DEFAULT_FLOW_OPTIONS, FlowTracker, type FlowOptions } from './flows.js';
import { LINKTYPE, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from './layers.js';

const T0 = Date.UTC(2026, 5, 11, 9, 0, 0);
const HASH = 'dcfcdccfb9e670ccc3dd40c78c161f2bea243126';
const PSH = 0x08;
const UTP_DATA = 0;
const UTP_STATE = 2;
const UTP_SYN = 4;

function tracker(options: Partial<FlowOptions> = {}) {
  const out: FlowRecord[] = [];
  const t = new FlowTracker({ ...DEFAULT_FLOW_OPTIONS, sourceId: 'unit', ...options }, out);
  const send = (tsMs: number, ip: Buffer) => t.packet(LINKTYPE.RAW, tsMs, ip, ip.length);
  return { t, out, send };
}

const tcp = (src: string, sp: number, dst: string, dp: number, flags: number, seq: number, payload?: Buffer) =>
  ipv4Packet(src, dst, 6, tcpSegment(sp, dp, flags, seq, payload));
const udp = (src: string, sp: number, dst: string, dp: number, payload: Buffer) => ipv4Packet(src, dst, 17, udpDatagram(sp, dp, payload));
const tcp6 = (src: string, sp: number, dst: string, dp: number, flags: number, seq: number) => ipv6Packet(src, dst, 6, tcpSegment(sp, dp, flags, seq));

describe('flow assembly', () => {
  it('one bidirectional record per TCP connection, closed by FIN both ways, IP bytes per direction', () => {
    const { t, out, send } = tracker();
    const c = '10.0.0.7';
    const s = '198.51.100.1';
    const req = Buffer.from('GET /pub/file.iso HTTP/1.1\r\nHost: mirror.example.org\r\nUser-Agent: Wget/1.21\r\n\r\n');
    const packets = [
      tcp(c, 40000, s, 80, TCP_SYN, 100),
      tcp(s, 80, c, 40000, TCP_SYN | TCP_ACK, 500),
      tcp(c, 40000, s, 80, TCP_ACK | PSH, 101, req),
      tcp(s, 80, c, 40000, TCP_ACK | PSH, 501, Buffer.alloc(1000, 1)),
      tcp(c, 40000, s, 80, TCP_ACK | TCP_FIN, 101 + req.length),
      tcp(s, 80, c, 40000, TCP_ACK | TCP_FIN, 1501),
      tcp(c, 40000, s, 80, TCP_ACK, 102 + req.length),
    ];
    packets.forEach((p, i) => send(T0 + i * 10, p));
    expect(out).toHaveLength(0);
    // Late ACK within the linger joins the flow; the record comes once the linger has passed.
    send(T0 + 5000, tcp('10.9.9.9', 1, '10.9.9.8', 2, TCP_SYN, 1));
    expect(out).toHaveLength(1);
    const r = out[0]!;
    expect([r.src, r.srcPort, r.dst, r.dstPort, r.proto]).toEqual([c, 40000, s, 80, 6]);
    expect([r.packetsOut, r.packetsIn]).toEqual([4, 3]);
    const outBytes = [0, 2, 4, 6].reduce((n, i) => n + packets[i]!.length, 0);
    const inBytes = [1, 3, 5].reduce((n, i) => n + packets[i]!.length, 0);
    expect([r.bytesOut, r.bytesIn]).toEqual([outBytes, inBytes]);
    expect([r.ts, r.tsEnd]).toEqual([T0, T0 + 60]);
    expect(r.app).toEqual({ name: 'http' });
    expect(r.serverName).toBe('mirror.example.org');
    expect(r.url).toBe('http://mirror.example.org/pub/file.iso');
    expect(r.method).toBe('GET');
    expect(r.userAgent).toBe('Wget/1.21');
    expect(r.source).toEqual({ type: 'pcap', id: 'unit' });
    expect(t.stats.ended.get('fin')).toBe(1);
  });

  it('a capture starting at the SYN-ACK still names the client as the initiator', () => {
    const { t, out, send } = tracker();
    send(T0, tcp('198.51.100.1', 443, '10.0.0.7', 40001, TCP_SYN | TCP_ACK, 1));
    send(T0 + 1, tcp('10.0.0.7', 40001, '198.51.100.1', 443, TCP_ACK, 2));
    t.finish();
    expect(out.map((r) => [r.src, r.srcPort, r.packetsOut, r.packetsIn])).toEqual([['10.0.0.7', 40001, 1, 1]]);
  });

  it('RST ends a flow; FIN retransmissions after the close do not make new flows', () => {
    const { t, out, send } = tracker({ closeLingerMs: 1000 });
    send(T0, tcp('10.0.0.7', 40002, '198.51.100.1', 22, TCP_SYN, 1));
    send(T0 + 1, tcp('198.51.100.1', 22, '10.0.0.7', 40002, TCP_RST | TCP_ACK, 1));
    send(T0 + 3000, tcp('10.0.0.7', 40002, '198.51.100.1', 22, TCP_ACK | TCP_FIN, 2));
    t.finish();
    expect(out).toHaveLength(1);
    expect(t.stats.ended.get('rst')).toBe(1);
    expect(t.stats.skipped.get('after_close')).toBe(1);
  });

  it('idle timeout ends a flow; active timeout emits partial records of a long flow', () => {
    const { t, out, send } = tracker({ idleTimeoutMs: 30_000, activeTimeoutMs: 60_000 });
    for (let i = 0; i <= 150; i++) send(T0 + i * 1000, udp('10.0.0.7', 5000, '192.0.2.50', 9000, Buffer.from('tick')));
    send(T0 + 100_000, udp('10.0.0.8', 5001, '192.0.2.51', 9001, Buffer.from('once')));
    send(T0 + 200_000, udp('10.0.0.9', 5002, '192.0.2.52', 9002, Buffer.from('later')));
    const long = out.filter((r) => r.srcPort === 5000);
    expect(long.map((r) => r.packetsOut)).toEqual([60, 60, 31]);
    expect(long.map((r) => r.ts)).toEqual([T0, T0 + 60_000, T0 + 120_000]);
    expect(out.some((r) => r.srcPort === 5001)).toBe(true);
    expect(out.some((r) => r.srcPort === 5002)).toBe(false);
    t.finish();
    expect(out.some((r) => r.srcPort === 5002)).toBe(true);
    expect(t.stats.ended.get('active')).toBe(2);
    expect(t.stats.ended.get('idle')).toBe(2);
    expect(t.stats.ended.get('end')).toBe(1);
  });

  it('a packet of a flow that ended just before it (idle, evicted) starts a new flow, also right after a run of that flow', () => {
    const { t, out, send } = tracker({ idleTimeoutMs: 10_000, maxFlows: 2 });
    const a = (ts: number) => send(ts, udp('10.0.0.7', 7000, '192.0.2.9', 7001, Buffer.from('a')));
    const b = (ts: number, port: number) => send(ts, udp('10.0.0.8', port, '192.0.2.9', 7001, Buffer.from('b')));
    a(T0);
    a(T0 + 1);
    // The sweep before this packet ends the flow it belongs to: the packet opens a new one.
    a(T0 + 20_000);
    a(T0 + 20_001);
    expect(out.map((r) => [r.srcPort, r.packetsOut, r.ts])).toEqual([[7000, 2, T0]]);
    // A full table evicts the oldest: the flow of the packet before, which comes back.
    b(T0 + 20_002, 8000);
    b(T0 + 20_003, 8001);
    a(T0 + 20_004);
    t.finish();
    expect(out.map((r) => [r.srcPort, r.packetsOut, r.ts])).toEqual([
      [7000, 2, T0],
      [7000, 2, T0 + 20_000],
      [8000, 1, T0 + 20_002],
      [8001, 1, T0 + 20_003],
      [7000, 1, T0 + 20_004],
    ]);
    expect(t.stats.evicted).toBe(2);
  });

  it('a full flow table evicts the oldest flow, counted', () => {
    const { t, out, send } = tracker({ maxFlows: 3 });
    for (let i = 0; i < 5; i++) send(T0 + i, udp('10.0.0.7', 6000 + i, '192.0.2.1', 53, Buffer.from('q')));
    expect(t.trackedFlows).toBe(3);
    expect(t.stats.evicted).toBe(2);
    expect(out.map((r) => r.srcPort)).toEqual([6000, 6001]);
  });

  it('stream heads waiting for more bytes share a bounded memory budget', () => {
    const { t, send } = tracker({ maxHeadBytes: 300 });
    send(T0, tcp('10.0.0.7', 41000, '198.51.100.1', 80, TCP_ACK | PSH, 1, Buffer.from('GET /a')));
    expect(t.heldHeadBytes).toBe(256);
    send(T0 + 1, tcp('10.0.0.7', 41001, '198.51.100.1', 80, TCP_ACK | PSH, 1, Buffer.from('GET /b')));
    expect(t.heldHeadBytes).toBe(256);
    expect(t.stats.skipped.get('inspect_budget')).toBe(1);
    // The first request completes and its head is released.
    send(T0 + 2, tcp('10.0.0.7', 41000, '198.51.100.1', 80, TCP_ACK | PSH, 7, Buffer.from(' HTTP/1.1\r\nHost: h\r\n\r\n')));
    t.finish();
    expect(t.heldHeadBytes).toBe(0);
  });

  it('many IPv4 connections in a small table (shared hash buckets) stay apart, closed state included', () => {
    const server = '198.51.100.1';
    const clients = Array.from({ length: 200 }, (_, i) => [`10.0.${i >> 4}.${i & 15}`, 40000 + (i % 7)] as const);
    const { t, out, send } = tracker({ maxFlows: 256, closeLingerMs: 1000 });
    clients.forEach(([ip, port], i) => send(T0 + i, tcp(ip, port, server, 80, TCP_SYN, 1)));
    clients.forEach(([ip, port], i) => send(T0 + 200 + i, tcp(server, 80, ip, port, TCP_SYN | TCP_ACK, 9)));
    expect(t.trackedFlows).toBe(200);
    // Every other connection is reset; after the linger its late FIN is recognised as after the close.
    clients.forEach(([ip, port], i) => i % 2 === 0 && send(T0 + 400 + i, tcp(server, 80, ip, port, TCP_RST | TCP_ACK, 10)));
    clients.forEach(([ip, port], i) => send(T0 + 3000 + i, tcp(ip, port, server, 80, i % 2 === 0 ? TCP_ACK | TCP_FIN : TCP_ACK, 2)));
    t.finish();
    const reset = out.filter((r) => r.packetsIn === 2);
    const open = out.filter((r) => r.packetsIn === 1);
    expect(reset.map((r) => [r.src, r.srcPort, r.packetsOut])).toEqual(clients.filter((_, i) => i % 2 === 0).map(([ip, port]) => [ip, port, 1]));
    expect(open.map((r) => [r.src, r.srcPort, r.packetsOut])).toEqual(clients.filter((_, i) => i % 2 === 1).map(([ip, port]) => [ip, port, 2]));
    expect(out).toHaveLength(200);
    expect(t.stats.skipped.get('after_close')).toBe(100);
    expect(t.stats.ended.get('rst')).toBe(100);
    expect(t.stats.ended.get('end')).toBe(100);
  });

  it('many IPv6 connections in a small table stay apart, closed state and direction included', () => {
    const server = '2001:db8::1';
    const clients = Array.from({ length: 100 }, (_, i) => `2001:db8::${(i + 2).toString(16)}:${(i * 37).toString(16)}`);
    const { t, out, send } = tracker({ maxFlows: 128, closeLingerMs: 1000 });
    // The server is the lower endpoint in key order; half the flows are seen first from it (SYN-ACK).
    clients.forEach((c, i) => send(T0 + i, i % 2 ? tcp6(server, 443, c, 50000, TCP_SYN | TCP_ACK, 9) : tcp6(c, 50000, server, 443, TCP_SYN, 1)));
    clients.forEach((c, i) => send(T0 + 100 + i, tcp6(server, 443, c, 50000, TCP_RST | TCP_ACK, 10)));
    clients.forEach((c, i) => send(T0 + 3000 + i, tcp6(c, 50000, server, 443, TCP_ACK | TCP_FIN, 2)));
    t.finish();
    expect(out.map((r) => [r.src, r.srcPort, r.dst, r.packetsOut, r.packetsIn])).toEqual(clients.map((c, i) => [c, 50000, server, i % 2 ? 0 : 1, i % 2 ? 2 : 1]));
    expect(t.stats.skipped.get('after_close')).toBe(100);
  });

  it('an IPv4 and an IPv6 connection on the same ports stay two flows', () => {
    const { t, out, send } = tracker({ maxFlows: 2 });
    send(T0, tcp('10.0.0.2', 1375, '198.51.100.1', 443, TCP_SYN, 1));
    send(T0 + 1, tcp6('2001:db8::2a', 1375, '2001:db8::1', 443, TCP_SYN, 1));
    send(T0 + 2, tcp('198.51.100.1', 443, '10.0.0.2', 1375, TCP_SYN | TCP_ACK, 9));
    send(T0 + 3, tcp6('2001:db8::1', 443, '2001:db8::2a', 1375, TCP_SYN | TCP_ACK, 9));
    t.finish();
    expect(out.map((r) => [r.src, r.dst, r.packetsOut, r.packetsIn])).toEqual([
      ['10.0.0.2', '198.51.100.1', 1, 1],
      ['2001:db8::2a', '2001:db8::1', 1, 1],
    ]);
  });

  it('an IPv6 flow answered first (SYN-ACK) keeps the connecting side as its source', () => {
    const { t, out, send } = tracker();
    send(T0, tcp6('2001:db8::1', 443, '2001:db8::9', 40000, TCP_SYN | TCP_ACK, 9));
    send(T0 + 1, tcp6('2001:db8::9', 40000, '2001:db8::1', 443, TCP_ACK, 2));
    send(T0 + 2, tcp6('2001:db8::9', 40000, '2001:db8::1', 443, TCP_ACK, 3));
    t.finish();
    expect(out.map((r) => [r.src, r.srcPort, r.dst, r.packetsOut, r.packetsIn])).toEqual([['2001:db8::9', 40000, '2001:db8::1', 2, 1]]);
  });

  it('IPv6 flows and later fragments (counted, not attributed)', () => {
    const { t, out, send } = tracker();
    send(T0, ipv6Packet('2001:db8::7', '2001:db8::1', 17, udpDatagram(7000, 7001, Buffer.from('x'))));
    send(T0 + 1, ipv6Packet('2001:db8::1', '2001:db8::7', 17, udpDatagram(7001, 7000, Buffer.from('y'))));
    send(T0 + 2, ipv4Packet('10.0.0.1', '10.0.0.2', 17, Buffer.from('tail'), { fragmentOffset: 100 }));
    t.finish();
    expect(out.map((r) => [r.src, r.dst, r.packetsOut, r.packetsIn])).toEqual([['2001:db8::7', '2001:db8::1', 1, 1]]);
    expect(t.stats.fragments).toBe(1);
    expect(t.stats.skipped.get('ip_fragment')).toBe(1);
  });
});

describe('address text', () => {
  it('an IPv4-mapped IPv6 address is spelled as by the NetFlow/IPFIX decoder: ::ffff:a.b.c.d', () => {
    const { t, out, send } = tracker();
    send(T0, ipv6Packet('::ffff:10.0.0.7', '::ffff:198.51.100.1', 17, udpDatagram(7000, 53, Buffer.from('x'))));
    t.finish();
    const body = new ByteWriter().raw(ipv6Bytes(parseIPv6('::ffff:10.0.0.7')!)).raw(ipv6Bytes(parseIPv6('::ffff:198.51.100.1')!)).u64(49).u64(1).u32(T0 / 1000).done();
    const exported: FlowRecord[] = [];
    new NetflowDecoder().decode(ipfixMessage(1, T0 / 1000, [set(2, templateRecord(256, IPV6_FLOW_FIELDS)), set(256, body)]), { exporter: '192.0.2.1', receivedAt: T0 }, exported);
    expect(out.map((r) => [r.src, r.dst])).toEqual([['::ffff:10.0.0.7', '::ffff:198.51.100.1']]);
    expect(exported.map((r) => [r.src, r.dst])).toEqual([[out[0]!.src, out[0]!.dst]]);
  });
});

describe('identification in flows', () => {
  it('a handshake split across segments yields info hash, peer id and client', () => {
    const { t, out, send } = tracker();
    const hs = handshake(HASH, '-qB4650-abcdefghijkl');
    send(T0, tcp('10.0.0.7', 40010, '203.0.113.5', 51413, TCP_SYN, 1));
    send(T0 + 1, tcp('203.0.113.5', 51413, '10.0.0.7', 40010, TCP_SYN | TCP_ACK, 1));
    send(T0 + 2, tcp('10.0.0.7', 40010, '203.0.113.5', 51413, TCP_ACK | PSH, 2, hs.subarray(0, 25)));
    // A retransmission of the first part must not be appended twice.
    send(T0 + 3, tcp('10.0.0.7', 40010, '203.0.113.5', 51413, TCP_ACK | PSH, 2, hs.subarray(0, 25)));
    send(T0 + 4, tcp('10.0.0.7', 40010, '203.0.113.5', 51413, TCP_ACK | PSH, 27, hs.subarray(25)));
    t.finish();
    expect(out[0]!.app).toEqual({ name: 'bittorrent', via: 'handshake', infoHash: HASH, peerId: '-qB4650-abcdefghijkl', client: 'qBittorrent 4650' });
  });

  it('a stream that ends inside a handshake carries what it had of it: the info hash from 48 bytes on, nothing before', () => {
    const { t, out, send } = tracker();
    const hs = handshake(HASH, '-qB4650-abcdefghijkl');
    for (const [port, bytes] of [[40020, 30], [40021, 50]] as const) {
      send(T0, tcp('10.0.0.7', port, '203.0.113.5', 51413, TCP_SYN, 1));
      send(T0 + 1, tcp('10.0.0.7', port, '203.0.113.5', 51413, TCP_ACK | PSH, 2, hs.subarray(0, bytes)));
    }
    t.finish();
    const app = (port: number) => out.find((r) => r.srcPort === port)?.app;
    expect(app(40020)).toEqual({ name: 'bittorrent', via: 'handshake' });
    expect(app(40021)).toEqual({ name: 'bittorrent', via: 'handshake', infoHash: HASH });
  });

  it('peers announced by a UDP tracker make later encrypted connections to them BitTorrent', () => {
    const { t, out, send } = tracker();
    const connect = Buffer.alloc(16);
    connect.writeUInt32BE(0x417, 0);
    connect.writeUInt32BE(0x27101980, 4);
    send(T0, udp('10.0.0.7', 6881, '192.0.2.80', 6969, connect));
    const response = Buffer.alloc(26);
    response.writeUInt32BE(1, 0);
    Buffer.from([203, 0, 113, 9, 0xc8, 0xd5]).copy(response, 20); // 203.0.113.9:51413
    send(T0 + 1, udp('192.0.2.80', 6969, '10.0.0.7', 6881, response));
    // An MSE/PE connection: random-looking bytes from the first segment.
    send(T0 + 2, tcp('10.0.0.7', 40020, '203.0.113.9', 51413, TCP_SYN, 1));
    send(T0 + 3, tcp('10.0.0.7', 40020, '203.0.113.9', 51413, TCP_ACK | PSH, 2, Buffer.from('8f1b2c99d0e4aa7731', 'hex')));
    // The same random bytes to a host nobody announced stay unknown.
    send(T0 + 4, tcp('10.0.0.7', 40021, '203.0.113.10', 51413, TCP_ACK | PSH, 2, Buffer.from('8f1b2c99d0e4aa7731', 'hex')));
    t.finish();
    const byDst = new Map(out.map((r) => [`${r.dst}:${r.dstPort}`, r.app]));
    expect(byDst.get('192.0.2.80:6969')).toMatchObject({ name: 'bittorrent', via: 'udp_tracker' });
    expect(byDst.get('203.0.113.9:51413')).toEqual({ name: 'bittorrent', via: 'known_peer' });
    expect(byDst.get('203.0.113.10:51413')).toBeUndefined();
  });

  it('uTP: a SYN answered with the same connection id', () => {
    const { t, out, send } = tracker();
    const syn = utpHeader(UTP_SYN, 777);
    const state = utpHeader(UTP_STATE, 777);
    send(T0, udp('10.0.0.7', 6881, '203.0.113.20', 40000, syn));
    send(T0 + 1, udp('203.0.113.20', 40000, '10.0.0.7', 6881, state));
    // Same header bytes, but no answer with a matching id: not enough.
    send(T0 + 2, udp('10.0.0.7', 6882, '203.0.113.21', 40000, syn));
    t.finish();
    expect(out.find((r) => r.dst === '203.0.113.20')?.app).toEqual({ name: 'bittorrent', via: 'utp' });
    expect(out.find((r) => r.dst === '203.0.113.21')?.app).toBeUndefined();
  });

  it('uTP: ids one apart with no SYN seen, then a handshake in a DATA packet names the torrent', () => {
    const { t, out, send } = tracker();
    // The initiator sends with the responder's id + 1 (BEP 29); both ids span two bytes.
    send(T0, udp('10.0.0.7', 6881, '203.0.113.22', 40000, utpHeader(UTP_STATE, 0x0103)));
    send(T0 + 1, udp('203.0.113.22', 40000, '10.0.0.7', 6881, utpHeader(UTP_STATE, 0x0102)));
    send(T0 + 2, udp('10.0.0.7', 6881, '203.0.113.22', 40000, Buffer.concat([utpHeader(UTP_DATA, 0x0103), handshake(HASH, '-TR4050-abcdefghijkl')])));
    // uTP on a DNS port is still uTP (its matcher comes first).
    send(T0 + 3, udp('10.0.0.7', 53, '203.0.113.23', 40000, utpHeader(UTP_SYN, 5)));
    send(T0 + 4, udp('203.0.113.23', 40000, '10.0.0.7', 53, utpHeader(UTP_STATE, 5)));
    t.finish();
    expect(out.find((r) => r.dst === '203.0.113.22')?.app).toEqual({ name: 'bittorrent', via: 'utp', infoHash: HASH, peerId: '-TR4050-abcdefghijkl', client: 'Transmission 4050' });
    expect(out.find((r) => r.dst === '203.0.113.23')?.app).toEqual({ name: 'bittorrent', via: 'utp' });
  });

  it('uTP to a peer an HTTP tracker listed carries the info hash of that torrent (encrypted uTP shows none)', () => {
    const { t, out, send } = tracker();
    const hashBytes = Buffer.from(HASH, 'hex');
    const escaped = [...hashBytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    const request = Buffer.from(`GET /announce?info_hash=${escaped}&peer_id=-qB4520-abcdefghijkl&port=6881&compact=1 HTTP/1.1\r\nHost: tracker.example\r\n\r\n`);
    send(T0, tcp('10.0.0.7', 40030, '192.0.2.81', 80, TCP_SYN, 1));
    send(T0 + 1, tcp('10.0.0.7', 40030, '192.0.2.81', 80, TCP_ACK | PSH, 2, request));
    const peers = Buffer.concat([Buffer.from('d8:intervali1800e5:peers6:'), Buffer.from([203, 0, 113, 30, 0xad, 0x9c]), Buffer.from('e')]);
    send(T0 + 2, tcp('192.0.2.81', 80, '10.0.0.7', 40030, TCP_ACK | PSH, 1, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${peers.length}\r\n\r\n`), peers])));
    send(T0 + 3, udp('10.0.0.7', 6881, '203.0.113.30', 44444, utpHeader(UTP_SYN, 900)));
    send(T0 + 4, udp('203.0.113.30', 44444, '10.0.0.7', 6881, utpHeader(UTP_STATE, 900)));
    t.finish();
    expect(out.find((r) => r.dst === '203.0.113.30')?.app).toEqual({ name: 'bittorrent', via: 'utp', infoHash: HASH });
  });

  it('a handshake later in an unidentified stream is found at any offset, a changed byte is not', () => {
    const hs = handshake(HASH, '-TR4050-abcdefghijkl');
    const full = { name: 'bittorrent', via: 'handshake', infoHash: HASH, peerId: '-TR4050-abcdefghijkl', client: 'Transmission 4050' };
    // Offsets on both sides of the 16-byte blocks the core scans and in its last partial block,
    // the whole handshake or only its protocol string at the very end of the segment.
    const cases = [0, 1, 15, 16, 17, 31, 40].flatMap((offset) => [
      { offset, later: Buffer.concat([Buffer.alloc(offset, 0x13), hs, Buffer.alloc(7, 0xaa)]), app: full },
      { offset, later: Buffer.concat([Buffer.alloc(offset, 0x13), hs]), app: full },
      { offset, later: Buffer.concat([Buffer.alloc(offset, 0x13), hs.subarray(0, 20)]), app: { name: 'bittorrent', via: 'handshake' } },
    ]);
    for (const { offset, later, app } of cases) {
      for (const changed of [false, true]) {
        const { t, out, send } = tracker();
        const segment = Buffer.from(later);
        if (changed) segment[offset + 5] = segment[offset + 5]! ^ 0x20;
        send(T0, tcp('10.0.0.7', 40040, '203.0.113.5', 51413, TCP_ACK | PSH, 1, Buffer.alloc(100, 0xaa)));
        send(T0 + 1, tcp('203.0.113.5', 51413, '10.0.0.7', 40040, TCP_ACK | PSH, 1, Buffer.alloc(100, 0xbb)));
        send(T0 + 2, tcp('10.0.0.7', 40040, '203.0.113.5', 51413, TCP_ACK | PSH, 101, segment));
        t.finish();
        expect(out[0]!.app, `offset ${offset}, ${segment.length} bytes, changed ${changed}`).toEqual(changed ? undefined : app);
      }
    }
  });

  it('a ClientHello split across segments is read once complete; a cut-off one names nothing', () => {
    const hello = clientHello('split.example.com');
    const { t, out, send } = tracker();
    send(T0, tcp('10.0.0.7', 40050, '198.51.100.20', 443, TCP_ACK | PSH, 1, hello.subarray(0, 5)));
    send(T0 + 1, tcp('10.0.0.7', 40050, '198.51.100.20', 443, TCP_ACK | PSH, 6, hello.subarray(5, 40)));
    expect(t.heldHeadBytes).toBe(256);
    send(T0 + 2, tcp('10.0.0.7', 40050, '198.51.100.20', 443, TCP_ACK | PSH, 41, hello.subarray(40)));
    expect(t.heldHeadBytes).toBe(0);
    // A record header that says handshake but a body too short for a hello.
    const cut = Buffer.from([0x16, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0]);
    send(T0 + 3, tcp('10.0.0.7', 40051, '198.51.100.20', 443, TCP_ACK | PSH, 1, cut));
    t.finish();
    const byPort = new Map(out.map((r) => [r.srcPort, r]));
    expect(byPort.get(40050)?.app).toEqual({ name: 'tls' });
    expect(byPort.get(40050)?.serverName).toBe('split.example.com');
    expect(byPort.get(40051)?.app).toBeUndefined();
    expect(byPort.get(40051)?.serverName).toBeUndefined();
  });

  it('inspection ends after maxInspectPackets payload packets, and a stream head still waiting is released', () => {
    const hs = handshake(HASH, '-TR4050-abcdefghijkl');
    const { t, out, send } = tracker({ maxInspectPackets: 3 });
    send(T0, tcp('10.0.0.7', 40060, '203.0.113.5', 51413, TCP_ACK | PSH, 1, hs.subarray(0, 10)));
    expect(t.heldHeadBytes).toBe(256);
    send(T0 + 1, tcp('203.0.113.5', 51413, '10.0.0.7', 40060, TCP_ACK | PSH, 1, Buffer.alloc(50, 0xbb)));
    send(T0 + 2, tcp('203.0.113.5', 51413, '10.0.0.7', 40060, TCP_ACK | PSH, 51, Buffer.alloc(50, 0xbb)));
    expect(t.heldHeadBytes).toBe(256);
    send(T0 + 3, tcp('10.0.0.7', 40060, '203.0.113.5', 51413, TCP_ACK | PSH, 11, hs.subarray(10)));
    expect(t.heldHeadBytes).toBe(0);
    t.finish();
    // The rest of the handshake came after the limit: nothing identified.
    expect(out[0]!.app).toBeUndefined();
  });

  it('TLS SNI and DNS answers name flows; port numbers alone classify nothing', () => {
    const { t, out, send } = tracker();
    send(T0, udp('10.0.0.7', 5300, '10.0.0.53', 53, dnsResponse('files.example.com', '198.51.100.20')));
    send(T0 + 1, tcp('10.0.0.7', 40030, '198.51.100.20', 8443, TCP_ACK | PSH, 1, clientHello('cdn.example.com')));
    send(T0 + 2, tcp('10.0.0.7', 40031, '198.51.100.20', 22, TCP_SYN, 1));
    send(T0 + 3, tcp('10.0.0.7', 40032, '198.51.100.99', 6881, TCP_ACK | PSH, 1, Buffer.from('random bytes on a BitTorrent port')));
    t.finish();
    const byPort = new Map(out.map((r) => [r.dstPort, r]));
    expect(byPort.get(8443)?.app).toEqual({ name: 'tls' });
    expect(byPort.get(8443)?.serverName).toBe('cdn.example.com');
    expect(byPort.get(22)?.serverName).toBe('files.example.com');
    expect(byPort.get(6881)?.app).toBeUndefined();
    expect(byPort.get(53)?.app).toEqual({ name: 'dns' });
  });

  it('names TLS flows in lower case, the same whether the name was seen before or not', () => {
    const { t, out, send } = tracker();
    // Names differing in case or by a byte, a vendor's service name, names past ASCII and more
    // names than the memo has slots, each sent twice.
    const names = ['CDN.Example.com', 'cdn.example.com', 'cdn.example.con', 'Update.uTorrent.com', 'www.exämple.de', 'ÀB.example', ''];
    for (let i = 0; i < 1500; i++) names.push(`h${i}.Example.org`);
    let port = 20000;
    for (const round of [0, 1]) {
      for (const name of names) send(T0 + round * 10 + (port % 7), tcp('10.0.0.7', port++, '198.51.100.20', 443, TCP_ACK | PSH, 1, clientHello(name)));
    }
    t.finish();
    expect(out).toHaveLength(names.length * 2);
    for (const r of out) {
      const name = names[(r.srcPort - 20000) % names.length]!;
      expect(r.serverName, name).toBe(name === '' ? undefined : name.toLowerCase());
      expect(r.app, name).toEqual(name === 'Update.uTorrent.com' ? { name: 'bittorrent', via: 'server_name' } : { name: 'tls' });
    }
  });
});

describe('IPv4TextCache', () => {
  it('gives the dotted quad of any address, also when two addresses share a slot', () => {
    const cache = new IPv4TextCache(2);
    const addresses = [0, 1, 0x7f000001, 0x80000000, 0xc0a80001, 0xffffffff, 0x0a000001, 0xc0a80001, 0];
    for (let round = 0; round < 3; round++) {
      for (const a of addresses) expect(cache.text(a)).toBe(formatIPv4(a));
    }
  });
});
