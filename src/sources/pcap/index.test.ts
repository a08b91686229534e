import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { clientHello, ethernetFrame, handshake, ipv4Packet, ipv6Packet, pcapFile, pcapngFile, tcpSegment, udpDatagram, utpHeader } from '../../decode/packet/craft.js';
import type { FlowRecord } from '../../record.js';
import { silentLogger } from '../../telemetry/logger.js';
import { sourceMetrics } from '../../telemetry/metrics.js';
import { pcapSourceSchema } from './config.js';
import { createPcapSource, replayPcap } from './index.js';
import { replayCapture } from './replay.js';

const T0 = Date.UTC(2026, 5, 11, 9);
const HASH = '0123456789abcdef0123456789abcdef01234567';
const dir = mkdtempSync(join(tmpdir(), 'egressd-pcap-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): Buffer {
  const frames = [
    ipv4Packet('10.0.0.7', '203.0.113.5', 6, tcpSegment(40000, 51413, 0x02, 1)),
    ipv4Packet('10.0.0.7', '203.0.113.5', 6, tcpSegment(40000, 51413, 0x18, 2, handshake(HASH, '-TR3000-abcdefghijkl'))),
    ipv4Packet('10.0.0.8', '198.51.100.1', 17, Buffer.alloc(3)), // UDP header cut short
  ].map((ip) => ethernetFrame(ip));
  return pcapFile(
    1,
    frames.map((data, i) => ({ tsMs: T0 + i, data })),
  );
}

function context(registry: Registry, records: FlowRecord[]) {
  return {
    sourceId: 'unit.pcap',
    out: {
      push: async (batch: FlowRecord[]) => {
        records.push(...batch);
      },
    },
    metrics: sourceMetrics(registry),
    logger: silentLogger(),
  };
}

describe('pcap source config', () => {
  it('parses {type} into full defaults and reads durations', () => {
    const c = pcapSourceSchema.parse({ type: 'pcap' });
    expect(c).toMatchObject({ path: '-', idleTimeout: 60_000, activeTimeout: 300_000, closeLinger: 2000, maxFlows: 100_000, knownPeers: { max: 65_536, ttl: 3_600_000 } });
    expect(pcapSourceSchema.parse({ type: 'pcap', idleTimeout: '15s', knownPeers: { ttl: '10m' } })).toMatchObject({ idleTimeout: 15_000, knownPeers: { ttl: 600_000 } });
    expect(() => pcapSourceSchema.parse({ type: 'pcap', idleTimeout: 'soon' })).toThrow();
    expect(() => pcapSourceSchema.parse({ type: 'pcap', bogus: 1 })).toThrow();
  });

  it('refuses a flow table larger than the packet core can hold, and builds the largest it allows', async () => {
    expect(() => pcapSourceSchema.parse({ type: 'pcap', maxFlows: 30_000_000 })).toThrow(/20000000/);
    const largest = pcapSourceSchema.parse({ type: 'pcap', maxFlows: 20_000_000 });
    const { FlowTracker, DEFAULT_FLOW_OPTIONS } = await import('../../decode/packet/flows.js');
    expect(new FlowTracker({ ...DEFAULT_FLOW_OPTIONS, maxFlows: largest.maxFlows }, []).trackedFlows).toBe(0);
    // Past 2 GiB of the core's memory (the input area beyond that table), offsets read signed
    // would point elsewhere: the records are the default table's.
    const frames = [
      ipv4Packet('10.0.0.7', '203.0.113.5', 6, tcpSegment(40000, 51413, 0x18, 2, handshake(HASH, '-TR3000-abcdefghijkl'))),
      ipv6Packet('2001:db8::7', '2001:db8:1::5', 6, tcpSegment(40001, 443, 0x18, 1, clientHello('files.example.org'))),
      // uTP (BEP 29 types: SYN 4, STATE 2, DATA 0), the handshake in its first DATA packet.
      ipv4Packet('10.0.0.7', '198.51.100.9', 17, udpDatagram(6881, 7000, utpHeader(4, 777))),
      ipv4Packet('198.51.100.9', '10.0.0.7', 17, udpDatagram(7000, 6881, utpHeader(2, 777))),
      ipv4Packet('10.0.0.7', '198.51.100.9', 17, udpDatagram(6881, 7000, Buffer.concat([utpHeader(0, 778), handshake(HASH, '-TR4050-abcdefghijkl')]))),
    ].map((ip, i) => ({ tsMs: T0 + i, data: ethernetFrame(ip) }));
    const path = join(dir, 'largest-table.pcap');
    writeFileSync(path, pcapFile(1, frames));
    const records: FlowRecord[] = [];
    const expected: FlowRecord[] = [];
    await replayCapture({ path }, context(new Registry(), records), largest);
    await replayCapture({ path }, context(new Registry(), expected), pcapSourceSchema.parse({ type: 'pcap' }));
    expect(records).toStrictEqual(expected);
    expect(records.map((r) => [r.app?.name, r.app?.infoHash ?? r.serverName])).toEqual([
      ['bittorrent', HASH],
      ['tls', 'files.example.org'],
      ['bittorrent', HASH],
    ]);
  });
});

describe('replayPcap', () => {
  it('reads a piped capture in odd chunks, pushes records and counts errors by reason', async () => {
    const registry = new Registry();
    const records: FlowRecord[] = [];
    const bytes = capture();
    const chunks = [];
    for (let i = 0; i < bytes.length; i += 33) chunks.push(bytes.subarray(i, i + 33));
    await replayPcap(Readable.from(chunks), context(registry, records), pcapSourceSchema.parse({ type: 'pcap' }), { registry });
    expect(records).toHaveLength(1);
    expect(records[0]!.app).toMatchObject({ name: 'bittorrent', infoHash: HASH, client: 'Transmission 3000' });
    expect(records[0]!.source).toEqual({ type: 'pcap', id: 'unit.pcap' });
    const metrics = await registry.metrics();
    expect(metrics).toContain('egressd_source_errors_total{source="pcap",id="unit.pcap",reason="truncated_udp"} 1');
    expect(metrics).toContain('egressd_source_records_total{source="pcap",id="unit.pcap"} 1');
    expect(metrics).toContain('egressd_pcap_packets_total{id="unit.pcap"} 3');
  });

  it('reads a file stream the same way (direct reads with a reused buffer)', async () => {
    const path = join(dir, 'a.pcap');
    writeFileSync(path, capture());
    const records: FlowRecord[] = [];
    await replayPcap(createReadStream(path), context(new Registry(), records), pcapSourceSchema.parse({ type: 'pcap' }));
    expect(records.map((r) => r.app?.infoHash)).toEqual([HASH]);
  });

  it('reads a capture file given by its path, or a file stream synchronously or not, the same way, across many reads', async () => {
    // Some three file reads, so records straddle the boundaries of both read slots.
    const frames = [];
    for (let i = 0; i < 4000; i++) frames.push({ tsMs: T0 + i, data: ethernetFrame(ipv4Packet('10.0.0.7', '203.0.113.5', 17, udpDatagram(30000 + (i % 50), 53, Buffer.alloc(1300, i)))) });
    const path = join(dir, 'big.pcap');
    writeFileSync(path, pcapFile(1, frames));
    const fromPath: FlowRecord[] = [];
    const fromStream: FlowRecord[] = [];
    const fromFile: FlowRecord[] = [];
    const config = pcapSourceSchema.parse({ type: 'pcap' });
    await replayCapture({ path }, context(new Registry(), fromPath), config);
    await replayCapture(Readable.from([readFileSync(path)]), context(new Registry(), fromStream), config);
    await replayCapture(createReadStream(path), context(new Registry(), fromFile), config);
    expect(fromPath.length).toBe(50);
    expect(fromPath).toStrictEqual(fromStream);
    expect(fromFile).toStrictEqual(fromStream);
    expect(fromPath.reduce((n, r) => n + r.packetsOut, 0)).toBe(4000);
  });

  it('reads a pcapng block larger than a file read (one left over across slots) like a stream does', async () => {
    const udp = (i: number) => ethernetFrame(ipv4Packet('10.0.0.7', '203.0.113.5', 17, udpDatagram(30000 + (i % 7), 53, Buffer.alloc(900, i))));
    const packets = [];
    for (let i = 0; i < 3000; i++) packets.push({ tsMs: T0 + i, data: udp(i) });
    // Some 5 MiB in one block, starting in the middle of a read: it spans three of them.
    packets.splice(1500, 0, { tsMs: T0 + 1500, data: Buffer.alloc(5 * 1024 * 1024 + 3, 7) });
    const path = join(dir, 'big-block.pcapng');
    writeFileSync(path, pcapngFile([{ linktype: 1 }], packets));
    const config = pcapSourceSchema.parse({ type: 'pcap' });
    const fromPath: FlowRecord[] = [];
    const fromStream: FlowRecord[] = [];
    const pathRegistry = new Registry();
    const streamRegistry = new Registry();
    await replayCapture({ path }, context(pathRegistry, fromPath), config);
    await replayCapture(Readable.from([readFileSync(path)]), context(streamRegistry, fromStream), config);
    expect(fromPath.reduce((n, r) => n + r.packetsOut, 0)).toBe(3000);
    expect(fromPath).toStrictEqual(fromStream);
    const errors = async (r: Registry) => (await r.getSingleMetric('egressd_source_errors_total')!.get()).values;
    expect(await errors(pathRegistry)).toStrictEqual(await errors(streamRegistry));
  });

  it('lets the event loop in between reads of a capture file: an abort stops it early, what was read still comes out', async () => {
    const frames = [];
    // One flow per packet, over some 20 file reads.
    for (let i = 0; i < 60_000; i++) {
      const src = `10.0.${(i >> 8) & 255}.${i & 255}`;
      frames.push({ tsMs: T0 + i, data: ethernetFrame(ipv4Packet(src, '203.0.113.5', 17, udpDatagram(40000, 53, Buffer.alloc(300)))) });
    }
    const path = join(dir, 'long.pcap');
    writeFileSync(path, pcapFile(1, frames));
    const records: FlowRecord[] = [];
    const abort = new AbortController();
    const base = context(new Registry(), records);
    // Stopped as the first batch goes out: the flows of what was read so far still come out.
    const out = {
      push: async (batch: FlowRecord[]) => {
        abort.abort();
        await base.out.push(batch);
      },
    };
    // Flows end a second after their packet, so batches go out while the file is read.
    await replayCapture({ path }, { ...base, out, signal: abort.signal }, pcapSourceSchema.parse({ type: 'pcap', idleTimeout: '1s' }));
    expect(records.length).toBeGreaterThan(0);
    expect(records.length).toBeLessThan(60_000);
    expect(new Set(records.map((r) => r.src)).size).toBe(records.length);
  });

  it('fails a capture file that cannot be read with a clear I/O error', async () => {
    await expect(replayCapture({ path: join(dir, 'missing.pcap') }, context(new Registry(), []), pcapSourceSchema.parse({ type: 'pcap' }))).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringMatching(/reading capture failed: ENOENT/),
    });
  });

  it('rejects input that is not a capture with a named decode error', async () => {
    const registry = new Registry();
    await expect(replayPcap(Readable.from([Buffer.from('#fields\tts\n')]), context(registry, []), pcapSourceSchema.parse({ type: 'pcap' }))).rejects.toMatchObject({
      code: 'DECODE',
      reason: 'bad_magic',
    });
  });
});

describe('live input', () => {
  it('ends idle flows by the wall clock while a live pipe is quiet', async () => {
    const input = new PassThrough();
    const records: FlowRecord[] = [];
    const now = Date.now();
    const bytes = pcapFile(1, [{ tsMs: now, data: ethernetFrame(ipv4Packet('10.0.0.7', '192.0.2.1', 17, Buffer.from([0x13, 0x88, 0x13, 0x89, 0, 9, 0, 0, 0x41]))) }]);
    const done = replayPcap(input, context(new Registry(), records), pcapSourceSchema.parse({ type: 'pcap', idleTimeout: '500ms' }), { wallClockIdle: true });
    input.write(bytes);
    const deadline = Date.now() + 5000;
    while (records.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(records).toHaveLength(1);
    input.end();
    await done;
    expect(records).toHaveLength(1);
  });
});

describe('a capture on a pipe (standard input)', () => {
  /** A FIFO fed by `sh -c script` (the path is $1), opened for reading. */
  function pipeFrom(name: string, script: string) {
    const fifo = join(dir, name);
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', script, 'writer', fifo], { stdio: 'ignore' });
    // Opening blocks until the writer has opened its end.
    return { fd: openSync(fifo, 'r'), writer };
  }

  it('reads a pipe straight into the packet core: the records of the file, in order, while the pipeline lags behind', async () => {
    const frames = [];
    for (let i = 0; i < 20_000; i++) {
      const src = `10.0.${(i >> 8) & 255}.${i & 255}`;
      frames.push({ tsMs: T0 + i * 100, data: ethernetFrame(ipv4Packet(src, '203.0.113.5', 17, udpDatagram(40000, 53, Buffer.alloc(100, i)))) });
    }
    const path = join(dir, 'piped.pcap');
    writeFileSync(path, pcapFile(1, frames));
    // Flows end as the capture goes (idle after 1 s of its time): batches are due while it is read.
    const config = pcapSourceSchema.parse({ type: 'pcap', batchSize: 64, idleTimeout: '1s' });
    const fromFile: FlowRecord[] = [];
    await replayCapture({ path }, context(new Registry(), fromFile), config);
    const { fd, writer } = pipeFrom('capture.fifo', `cat ${JSON.stringify(path)} > "$1"`);
    const fromPipe: FlowRecord[] = [];
    let pushes = 0;
    const slow = {
      ...context(new Registry(), fromPipe),
      out: {
        push: async (batch: FlowRecord[]) => {
          // Every tenth batch waits: reading stops meanwhile and goes on after.
          if (++pushes % 10 === 0) await new Promise((r) => setTimeout(r, 5));
          fromPipe.push(...batch);
        },
      },
    };
    await replayCapture({ fd }, slow, config);
    writer.kill();
    expect(fromFile.length).toBe(20_000);
    expect(fromPipe).toStrictEqual(fromFile);
  });

  it('a live pipe that goes quiet: idle flows end by the wall clock, and an abort ends the read', async () => {
    const now = Date.now();
    const path = join(dir, 'quiet.pcap');
    writeFileSync(path, pcapFile(1, [{ tsMs: now, data: ethernetFrame(ipv4Packet('10.0.0.7', '192.0.2.1', 17, udpDatagram(5000, 5001, Buffer.from('A')))) }]));
    // The writer keeps the pipe open after the capture: no end of input.
    const { fd, writer } = pipeFrom('quiet.fifo', `cat ${JSON.stringify(path)} > "$1"; exec 3>"$1"; sleep 30`);
    const records: FlowRecord[] = [];
    const abort = new AbortController();
    const done = replayCapture({ fd }, { ...context(new Registry(), records), signal: abort.signal }, pcapSourceSchema.parse({ type: 'pcap', idleTimeout: '500ms' }), { wallClockIdle: true });
    const deadline = Date.now() + 5000;
    while (records.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(records).toHaveLength(1);
    abort.abort();
    await done;
    writer.kill();
    expect(records).toHaveLength(1);
  });

  it('reads a file on a descriptor (standard input redirected from a file) like the file', async () => {
    const path = join(dir, 'on-descriptor.pcap');
    writeFileSync(path, capture());
    const config = pcapSourceSchema.parse({ type: 'pcap' });
    const fromPath: FlowRecord[] = [];
    await replayCapture({ path }, context(new Registry(), fromPath), config);
    const fd = openSync(path, 'r');
    const fromFd: FlowRecord[] = [];
    await replayCapture({ fd }, context(new Registry(), fromFd), config);
    closeSync(fd);
    expect(fromFd).toStrictEqual(fromPath);
    expect(fromPath.map((r) => r.app?.infoHash)).toEqual([HASH]);
  });

  it('regression: a pipe handed over with its abort already signalled is not read, nor waited on', async () => {
    // The writer sends nothing and keeps the pipe open: a read would wait for ever.
    const { fd, writer } = pipeFrom('silent.fifo', 'exec 3>"$1"; sleep 30');
    const abort = new AbortController();
    abort.abort();
    const records: FlowRecord[] = [];
    await replayCapture({ fd }, { ...context(new Registry(), records), signal: abort.signal }, pcapSourceSchema.parse({ type: 'pcap' }), { wallClockIdle: true });
    writer.kill();
    expect(records).toEqual([]);
  });
});

describe('createPcapSource', () => {
  it('is inert until started, finishes at the end of a file, stops cleanly', async () => {
    const path = join(dir, 'b.pcap');
    writeFileSync(path, capture());
    const records: FlowRecord[] = [];
    const fatal: Error[] = [];
    const source = createPcapSource(pcapSourceSchema.parse({ type: 'pcap', path }), {
      logger: silentLogger(),
      registry: new Registry(),
      stateDir: dir,
      onFatal: (e) => fatal.push(e),
      audit: () => undefined,
      out: {
        push: async (batch) => {
          records.push(...batch);
        },
      },
    });
    expect(records).toHaveLength(0);
    await source.start();
    await source.finished;
    await source.stop();
    expect(fatal).toEqual([]);
    expect(records).toHaveLength(1);
    expect(records[0]!.source.id).toBe('b.pcap');
  });
});
