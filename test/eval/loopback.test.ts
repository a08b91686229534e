import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir, which } from '../support/env.js';
import { orientLoopbackCapture } from './loopback.js';

function pcap(frames: Buffer[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262_144, 16);
  header.writeUInt32LE(1, 20);
  const records = frames.map((f, i) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1_781_000_000 + i, 0);
    rec.writeUInt32LE(f.length, 8);
    rec.writeUInt32LE(f.length, 12);
    return Buffer.concat([rec, f]);
  });
  return Buffer.concat([header, ...records]);
}

/** Ethernet + IPv4 (127.0.0.1 both ends) + TCP/UDP with wrong checksums. */
function frame(proto: 6 | 17, sport: number, dport: number, flags: number, payload: string): Buffer {
  const l4 = Buffer.alloc(proto === 6 ? 20 : 8);
  l4.writeUInt16BE(sport, 0);
  l4.writeUInt16BE(dport, 2);
  if (proto === 6) {
    l4[12] = 5 << 4;
    l4[13] = flags;
  } else {
    l4.writeUInt16BE(8 + payload.length, 4);
    // Any non-zero value: a zero UDP checksum means "none" and is kept.
    l4.writeUInt16BE(0x1234, 6);
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length + payload.length, 2);
  ip[8] = 64;
  ip[9] = proto;
  ip.set([127, 0, 0, 1], 12);
  ip.set([127, 0, 0, 1], 16);
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, ip, l4, Buffer.from(payload)]);
}

function sum16(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Packets of a rewritten single-frame-per-record pcap: addresses, and whether both checksums verify. */
function inspect(file: Buffer): { src: string; dst: string; valid: boolean }[] {
  const out: { src: string; dst: string; valid: boolean }[] = [];
  for (let off = 24; off + 16 <= file.length; ) {
    const len = file.readUInt32LE(off + 8);
    const ip = file.subarray(off + 16 + 14, off + 16 + len);
    off += 16 + len;
    const l4 = ip.subarray(20);
    const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, ip[9]!]), Buffer.from([l4.length >> 8, l4.length & 255])]);
    const valid = sum16(ip.subarray(0, 20)) === 0xffff && sum16(l4, sum16(pseudo)) === 0xffff;
    out.push({ src: [...ip.subarray(12, 16)].join('.'), dst: [...ip.subarray(16, 20)].join('.'), valid });
  }
  return out;
}

describe('orientLoopbackCapture', () => {
  it('makes the opener internal and the listener outside, with valid checksums', () => {
    const input = pcap([
      frame(6, 40_000, 6969, 0x02, ''),
      frame(6, 6969, 40_000, 0x12, ''),
      frame(6, 40_000, 6969, 0x18, 'GET /announce?info_hash=x HTTP/1.1\r\n\r\n'),
      frame(17, 51_413, 6881, 0, 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'),
    ]);
    const out = orientLoopbackCapture(input)!;
    expect(out).toBeDefined();
    const packets = inspect(out);
    const listener = (port: number): string => `198.51.100.${1 + (port % 250)}`;
    expect(packets.map((p) => [p.src, p.dst])).toEqual([
      ['10.99.0.1', listener(6969)],
      [listener(6969), '10.99.0.1'],
      ['10.99.0.1', listener(6969)],
      ['10.99.0.1', listener(6881)],
    ]);
    expect(packets.every((p) => p.valid)).toBe(true);
    // The input is left as it was.
    expect(inspect(input)[0]?.src).toBe('127.0.0.1');
  });

  it('leaves other captures alone', () => {
    expect(orientLoopbackCapture(Buffer.from('0a0d0d0a000000000000000000000000000000000000000000', 'hex'))).toBeUndefined();
    expect(orientLoopbackCapture(pcap([]))).toBeUndefined();
  });

  it('keeps the packet fixtures valid for tshark', (ctx) => {
    const capture = join(REPO_ROOT, 'src', 'decode', 'packet', 'testdata', 'swarm-http-tracker.pcap');
    const tshark = which('tshark');
    if (!existsSync(capture) || !tshark) return ctx.skip();
    const dir = tempDir('egressd-eval-loopback-');
    try {
      const path = join(dir.path, 'oriented.pcap');
      writeFileSync(path, orientLoopbackCapture(readFileSync(capture))!);
      const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
      const bad = execFileSync(tshark, ['-r', path, ...checks, '-Y', 'ip.checksum.status==2 || tcp.checksum.status==2 || udp.checksum.status==2'], { stdio: ['ignore', 'pipe', 'ignore'] });
      expect(bad.toString().trim()).toBe('');
      const sources = execFileSync(tshark, ['-r', path, '-T', 'fields', '-e', 'ip.src'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      expect(sources).not.toContain('127.0.0.1');
      expect(sources).toContain('10.99.0.1');
    } finally {
      dir.remove();
    }
  });
});
