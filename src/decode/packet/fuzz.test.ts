// Fuzz: mutated real and crafted captures through the framing and flow assembly, and random
// bytes through every payload decoder. Nothing may throw except the named rejection of input
// that is not a capture at all; problems are counted by reason.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../errors.js';
import { sharedFixture } from '../../../test/support/env.js';
import { scanKrpc } from './bencode.js';
import { handshakeLength, matchKrpc, matchLsd, matchUdpTrackerRequest, parseUtp, trackerQuery, trackerResponsePeers, udpTrackerAnnouncePeers } from './bittorrent.js';
import { CaptureReader } from './capture.js';
import { clientHello, dnsResponse, ethernetFrame, handshake, ipv4Packet, ipv6Packet, pcapFile, pcapngFile, tcpSegment, udpDatagram } from './craft.js';
import { DEFAULT_FLOW_OPTIONS, FlowTracker } from './flows.js';
import { matchHttpRequest, matchTlsClientHello, parseDns } from './names.js';
import { seededRandom } from '../../../test/support/random.js';


function craftedCorpus(): Buffer[] {
  const T0 = Date.UTC(2026, 5, 11);
  const frames = [
    ethernetFrame(ipv4Packet('10.0.0.1', '10.0.0.2', 6, tcpSegment(1, 2, 0x18, 1, handshake('ab'.repeat(20), '-TR3000-abcdefghijkl')))),
    ethernetFrame(ipv4Packet('10.0.0.1', '10.0.0.2', 6, tcpSegment(3, 443, 0x18, 1, clientHello('x.example.com')))),
    ethernetFrame(ipv4Packet('10.0.0.2', '10.0.0.1', 17, udpDatagram(53, 5000, dnsResponse('x.example.com', '10.0.0.9')))),
    ethernetFrame(ipv6Packet('2001:db8::1', '2001:db8::2', 17, udpDatagram(6881, 6881, Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'))), [{ tpid: 0x8100, id: 5 }]),
  ];
  const packets = frames.map((data, i) => ({ tsMs: T0 + i, data }));
  return [pcapFile(1, packets), pcapngFile([{ linktype: 1, tsresol: 9 }], packets)];
}

function publicCorpus(): Buffer[] {
  const out: Buffer[] = [];
  for (const rel of ['ndpi/bittorrent/bittorrent_utp.pcap', 'ndpi/bittorrent/lru_ipv6_caches.pcapng', 'arkime/bt-udp.pcap', 'suricata-verify/bittorrent-dht_input.pcap', 'ndpi/non_bittorrent/google_ssl.pcap']) {
    const path = sharedFixture(rel);
    if (path) out.push(readFileSync(path));
  }
  return out;
}

function mutate(input: Buffer, random: () => number): Buffer {
  const b = Buffer.from(input);
  const kind = random();
  if (kind < 0.6) {
    const flips = 1 + Math.floor(random() * 24);
    for (let i = 0; i < flips; i++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
    return b;
  }
  if (kind < 0.8) return b.subarray(0, Math.floor(random() * b.length));
  // Splice random bytes somewhere after the file header.
  const at = 24 + Math.floor(random() * Math.max(1, b.length - 24));
  const junk = Buffer.alloc(1 + Math.floor(random() * 64));
  for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
  return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
}

describe('fuzz', () => {
  it('mutated captures never throw through the framing and flow assembly', () => {
    const corpus = [...craftedCorpus(), ...publicCorpus()];
    const random = seededRandom(0xe9e55d);
    const errors = new Map<string, number>();
    let notCaptures = 0;
    let records = 0;
    const iterations = 3000;
    for (let i = 0; i < iterations; i++) {
      const input = mutate(corpus[i % corpus.length]!, random);
      const out: never[] = [];
      const tracker = new FlowTracker({ ...DEFAULT_FLOW_OPTIONS, maxFlows: 64 }, out);
      try {
        const chunk = 1 + Math.floor(random() * 4096);
        for (let p = 0; p < input.length; p += chunk) tracker.feed(input.subarray(p, p + chunk));
        tracker.endOfInput();
      } catch (err) {
        // Only a destroyed file header may be refused, and only with a named reason.
        expect(err).toBeInstanceOf(DecodeError);
        expect(['bad_magic', 'empty_input']).toContain((err as DecodeError).reason);
        notCaptures++;
      }
      tracker.finish();
      records += out.length;
      for (const [reason, n] of tracker.stats.errors) errors.set(reason, (errors.get(reason) ?? 0) + n);
    }
    expect(records).toBeGreaterThan(iterations);
    // Both framing and packet decoding problems came up, counted by reason.
    expect([...errors.keys()].some((r) => ['truncated_record', 'bad_record_length', 'bad_block_length', 'bad_packet_block'].includes(r))).toBe(true);
    expect([...errors.keys()].some((r) => r.startsWith('truncated_') && r !== 'truncated_record')).toBe(true);
    expect(notCaptures).toBeLessThan(iterations / 4);
  });

  it('mutated captures frame alike through the capture reader, whatever the chunking', () => {
    const corpus = craftedCorpus();
    const random = seededRandom(0x5eed);
    for (let i = 0; i < 300; i++) {
      const input = mutate(corpus[i % corpus.length]!, random);
      const framings = [input.length, 1 + Math.floor(random() * 64)].map((chunk) => {
        const packets: string[] = [];
        const errors: string[] = [];
        const reader = new CaptureReader(
          (linktype, tsMs, buf, start, end, wire) => packets.push(`${linktype} ${tsMs} ${wire} ${buf.toString('hex', start, end)}`),
          (reason) => errors.push(reason),
        );
        try {
          for (let p = 0; p < input.length; p += chunk) reader.feed(input.subarray(p, p + chunk));
          reader.end();
        } catch (err) {
          errors.push((err as DecodeError).reason);
        }
        // Problems are reported after each chunk: the same ones, not in the same place among the packets.
        return { packets, errors: errors.sort() };
      });
      expect(framings[1]).toEqual(framings[0]);
    }
  });

  it('random bytes never throw through the payload decoders', () => {
    const random = seededRandom(42);
    const seeds = [
      Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'),
      clientHello('fuzz.example.com'),
      dnsResponse('fuzz.example.com', '192.0.2.1'),
      Buffer.from('GET /announce?info_hash=%12%34&peer_id=-TR3000-x HTTP/1.1\r\nHost: t\r\n\r\n'),
      handshake('cd'.repeat(20), '-UT3550-abcdefghijkl'),
      Buffer.from('BT-SEARCH * HTTP/1.1\r\nInfohash: ' + 'a'.repeat(40) + '\r\n\r\n'),
    ];
    for (let i = 0; i < 4000; i++) {
      const payload = mutate(Buffer.concat([Buffer.alloc(24), seeds[i % seeds.length]!]), random).subarray(24);
      matchKrpc(payload);
      scanKrpc(payload);
      parseUtp(payload);
      parseDns(payload);
      matchTlsClientHello(payload);
      matchHttpRequest(payload);
      handshakeLength(payload, 0, payload.length);
      matchLsd(payload);
      matchUdpTrackerRequest(payload, true);
      udpTrackerAnnouncePeers(payload, i % 2 === 0);
      trackerResponsePeers(payload);
      trackerQuery(payload.toString('latin1'));
    }
  });
});
