import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sharedFixture } from '../../../test/support/env.js';
import { udpDatagrams, type FrameSkipReason, type UdpDatagram } from './pcap-frames.js';

const TESTDATA = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'decode', 'netflow', 'testdata');

async function read(chunks: Iterable<Uint8Array>, skipped: FrameSkipReason[] = []): Promise<UdpDatagram[]> {
  const out: UdpDatagram[] = [];
  for await (const d of udpDatagrams(chunks, (r) => skipped.push(r))) out.push({ ...d, payload: Uint8Array.from(d.payload) });
  return out;
}

function* inChunks(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, o + size);
}

describe('udpDatagrams', () => {
  it('reads the same datagrams from pcap (µs), nanosecond pcap and pcapng', async () => {
    const v10 = await read([readFileSync(join(TESTDATA, 'softflowd-loopback-v10.pcap'))]);
    const v10ng = await read([readFileSync(join(TESTDATA, 'softflowd-loopback-v10.pcapng'))]);
    expect(v10.length).toBeGreaterThan(0);
    expect(v10ng).toEqual(v10);
    const v9 = await read([readFileSync(join(TESTDATA, 'softflowd-loopback-v9.pcap'))]);
    const v9ns = await read([readFileSync(join(TESTDATA, 'softflowd-loopback-v9.nsec.pcap'))]);
    expect(v9ns).toEqual(v9);
    expect(v10[0]).toMatchObject({ src: '127.0.0.1', dst: '127.0.0.1', dstPort: 39555 });
    expect(v10[0]!.payload[1]).toBe(10);
    expect(v10[0]!.ts).toBeGreaterThan(Date.UTC(2026, 0, 1));
  });

  it('streams: any chunking gives the same result', async () => {
    const file = readFileSync(join(TESTDATA, 'softflowd-bittorrent-v9.pcap'));
    const whole = await read([file]);
    for (const size of [1, 7, 64, 1000]) expect(await read(inChunks(file, size))).toEqual(whole);
  });

  it('finds every whole UDP datagram of public captures, IPv4 and IPv6, and says why it skips the rest', async (ctx) => {
    // Counts from tshark: udp, not inside ICMP errors, not fragments.
    const cases = [
      ['ndpi/bittorrent/lru_ipv6_caches.pcapng', 79],
      ['ndpi/bittorrent/bittorrent_utp.pcap', 92],
      ['ndpi/non_bittorrent/dns.pcap', 5],
    ] as const;
    for (const [name, udp] of cases) {
      const path = sharedFixture(name);
      if (!path) return ctx.skip();
      const skipped: FrameSkipReason[] = [];
      const got = await read([readFileSync(path)], skipped);
      expect(got.length, name).toBe(udp);
      expect(skipped.every((r) => r === 'not_udp' || r === 'ip_fragment'), name).toBe(true);
    }
  });

  it('rejects what is not a capture', async () => {
    await expect(read([Buffer.from('hello, this is not a capture at all')])).rejects.toThrow(/not a pcap/);
  });
});
