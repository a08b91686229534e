import { describe, expect, it } from 'vitest';
import { formatIPv4, formatIPv6At } from '../../util/ip.js';
import { ethernetFrame, ipv4Packet, ipv6Packet, nullFrame, sll2Frame, sllFrame, tcpSegment, udpDatagram } from './craft.js';
import { LINKTYPE, PacketView, TCP_ACK, TCP_SYN, decodeLayers } from './layers.js';

const HELLO = Buffer.from('hello');
const tcp4 = ipv4Packet('10.0.0.1', '192.0.2.9', 6, tcpSegment(40000, 443, TCP_SYN | TCP_ACK, 7, HELLO));
const udp6 = ipv6Packet('2001:db8::1', '2001:db8::2', 17, udpDatagram(5353, 6881, HELLO));

function decode(linktype: number, frame: Buffer) {
  const view = new PacketView();
  const result = decodeLayers(linktype, frame, view);
  return { result, view };
}

function expectTcp4(view: PacketView) {
  expect(view.ipVersion).toBe(4);
  expect(formatIPv4(view.srcV4)).toBe('10.0.0.1');
  expect(formatIPv4(view.dstV4)).toBe('192.0.2.9');
  expect([view.proto, view.srcPort, view.dstPort, view.tcpFlags, view.tcpSeq]).toEqual([6, 40000, 443, TCP_SYN | TCP_ACK, 7]);
  expect(view.payload().toString()).toBe('hello');
  expect(view.ipLength).toBe(tcp4.length);
}

describe('link layers', () => {
  it('Ethernet', () => {
    const { result, view } = decode(LINKTYPE.ETHERNET, ethernetFrame(tcp4));
    expect(result).toBe('ok');
    expectTcp4(view);
  });

  it('802.1Q and QinQ tags', () => {
    const frame = ethernetFrame(tcp4, [
      { tpid: 0x88a8, id: 100 },
      { tpid: 0x8100, id: 200 },
    ]);
    const { result, view } = decode(LINKTYPE.ETHERNET, frame);
    expect(result).toBe('ok');
    expectTcp4(view);
  });

  it('Linux cooked capture v1 and v2', () => {
    for (const [lt, frame] of [
      [LINKTYPE.LINUX_SLL, sllFrame(tcp4)],
      [LINKTYPE.LINUX_SLL2, sll2Frame(tcp4)],
    ] as const) {
      const { result, view } = decode(lt, frame);
      expect(result).toBe('ok');
      expectTcp4(view);
    }
  });

  it('raw IP link types 101, 12, 228 and 229', () => {
    for (const lt of [LINKTYPE.RAW, LINKTYPE.RAW_OPENBSD, LINKTYPE.IPV4]) expectTcp4(decode(lt, tcp4).view);
    const v6 = decode(LINKTYPE.IPV6, udp6);
    expect(v6.result).toBe('ok');
    expect(formatIPv6At(v6.view.buf, v6.view.srcOff)).toBe('2001:db8::1');
    expect(decode(LINKTYPE.RAW, udp6).view.dstPort).toBe(6881);
  });

  it('null/loopback in either byte order', () => {
    expectTcp4(decode(LINKTYPE.NULL, nullFrame(tcp4)).view);
    expectTcp4(decode(LINKTYPE.NULL, nullFrame(tcp4, true)).view);
    expect(decode(LINKTYPE.NULL, nullFrame(udp6)).view.srcPort).toBe(5353);
  });

  it('names what it cannot decode', () => {
    const arp = ethernetFrame(tcp4);
    arp.writeUInt16BE(0x0806, 12);
    expect(decode(LINKTYPE.ETHERNET, arp).result).toBe('non_ip');
    expect(decode(147, tcp4).result).toBe('unsupported_linktype');
    expect(decode(LINKTYPE.ETHERNET, Buffer.alloc(10)).result).toBe('truncated_link');
    expect(decode(LINKTYPE.RAW, tcp4.subarray(0, 12)).result).toBe('truncated_ip');
    expect(decode(LINKTYPE.RAW, tcp4.subarray(0, 30)).result).toBe('truncated_tcp');
    const badIhl = Buffer.from(tcp4);
    badIhl[0] = 0x43;
    expect(decode(LINKTYPE.RAW, badIhl).result).toBe('bad_ip_header');
    const badVersion = Buffer.from(tcp4);
    badVersion[0] = 0x55;
    expect(decode(LINKTYPE.RAW, badVersion).result).toBe('bad_ip_version');
    const badOffset = Buffer.from(tcp4);
    badOffset[20 + 12] = 0x20;
    expect(decode(LINKTYPE.RAW, badOffset).result).toBe('bad_tcp_header');
  });
});

describe('IP', () => {
  it('IPv4 fragments: the first keeps its ports, later ones are marked', () => {
    const first = decode(LINKTYPE.RAW, ipv4Packet('10.0.0.1', '10.0.0.2', 17, udpDatagram(1000, 2000, HELLO), { moreFragments: true }));
    expect(first.view.fragment).toBe(true);
    expect(first.view.laterFragment).toBe(false);
    expect(first.view.dstPort).toBe(2000);
    const later = decode(LINKTYPE.RAW, ipv4Packet('10.0.0.1', '10.0.0.2', 17, HELLO, { fragmentOffset: 185 }));
    expect(later.result).toBe('ok');
    expect(later.view.laterFragment).toBe(true);
    expect(later.view.dstPort).toBe(0);
  });

  it('IPv6 extension headers are walked to the transport header', () => {
    const packet = ipv6Packet('2001:db8::1', '2001:db8::2', 6, tcpSegment(1234, 80, TCP_ACK, 1, HELLO), [
      { type: 0, body: Buffer.alloc(6) },
      { type: 60, body: Buffer.alloc(14) },
      { type: 44, body: Buffer.alloc(6) },
    ]);
    const { result, view } = decode(LINKTYPE.IPV6, packet);
    expect(result).toBe('ok');
    expect([view.proto, view.srcPort, view.dstPort]).toEqual([6, 1234, 80]);
    expect(view.fragment).toBe(true);
    expect(view.payload().toString()).toBe('hello');
    expect(decode(LINKTYPE.IPV6, packet.subarray(0, 44)).result).toBe('truncated_ipv6_ext');
  });

  it('Ethernet padding is not payload; a snap length cut keeps the IP length', () => {
    const small = ipv4Packet('10.0.0.1', '10.0.0.2', 17, udpDatagram(1, 2, Buffer.from('x')));
    const padded = Buffer.concat([ethernetFrame(small), Buffer.alloc(20)]);
    const { view } = decode(LINKTYPE.ETHERNET, padded);
    expect(view.payloadLen).toBe(1);
    const cut = decode(LINKTYPE.RAW, tcp4.subarray(0, 42));
    expect(cut.result).toBe('ok');
    expect(cut.view.ipLength).toBe(tcp4.length);
    expect(cut.view.payloadLen).toBe(2);
  });

  it('other protocols become port-less flows', () => {
    const icmp = decode(LINKTYPE.RAW, ipv4Packet('10.0.0.1', '10.0.0.2', 1, Buffer.from([8, 0, 0, 0, 0, 1, 0, 1])));
    expect(icmp.result).toBe('ok');
    expect([icmp.view.proto, icmp.view.srcPort, icmp.view.dstPort]).toEqual([1, 0, 0]);
  });
});

