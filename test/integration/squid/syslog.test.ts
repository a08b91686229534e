import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import type { FlowRecord } from '../../../src/record.js';
import { syslogSourceSchema } from '../../../src/sources/syslog/config.js';
import { createSyslogSource, type SyslogSource } from '../../../src/sources/syslog/index.js';
import type { RecordBatchSink } from '../../../src/sources/types.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { freePort, waitFor } from '../../support/env.js';

// The syslog receiver over real loopback sockets: UDP, TCP with both framings, RFC 3164 and
// 5424 headers, a client that trickles bytes, and floods beyond capacity.

function squidLine(i: number): string {
  return `${1_700_000_000 + i}.123 5 10.0.0.${1 + (i % 200)} TCP_MISS/200 ${1000 + i} GET http://cdn.example.net/f-${i}.zip - HIER_DIRECT/198.51.100.1 application/zip`;
}
const rfc3164 = (i: number) => `<166>Jun 10 08:13:20 proxy1 squid[1234]: ${squidLine(i)}`;
const rfc5424 = (i: number) => `<166>1 2024-06-10T08:13:20.123Z proxy1 squid 1234 - - ${squidLine(i)}`;

/** A sink that can be held closed to make the source wait. */
class GatedSink implements RecordBatchSink {
  records: FlowRecord[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  async push(batch: FlowRecord[]): Promise<void> {
    if (this.gate) await this.gate;
    this.records.push(...batch);
  }
}

const running: { source: SyslogSource; sink: GatedSink }[] = [];
afterEach(async () => {
  for (const { source, sink } of running.splice(0)) {
    sink.release();
    await source.stop();
  }
});

async function start(options: Record<string, unknown>, sink = new GatedSink()) {
  const config = syslogSourceSchema.parse({ type: 'syslog', ...options });
  const source = createSyslogSource(config, {
    logger: silentLogger(),
    registry: new Registry(),
    stateDir: '/nonexistent',
    onFatal: (err) => {
      throw err;
    },
    audit: () => {},
    out: sink,
  });
  await source.start();
  running.push({ source, sink });
  return { source, sink };
}

function sendUdp(port: number, messages: string[]): Promise<void> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = messages.length;
    for (const m of messages) {
      socket.send(m, port, '127.0.0.1', (err) => {
        if (err) reject(err);
        if (--left === 0) {
          socket.close();
          resolve();
        }
      });
    }
  });
}

function tcpClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function write(s: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
}

describe('syslog source on loopback', () => {
  test('UDP with RFC 3164 and RFC 5424 headers', async () => {
    const port = await freePort();
    const { source, sink } = await start({ udp: `127.0.0.1:${port}` });
    await sendUdp(port, [rfc3164(1), rfc5424(2), squidLine(3) + '\n', '<13>Jun 10 08:13:20 proxy1 squid[1]: garbage here']);
    await waitFor(() => sink.records.length === 3 && source.stats().decodeErrors.format_mismatch === 1, 10_000, 'UDP records');
    expect(sink.records.map((r) => r.bytesIn).sort()).toEqual([1001, 1002, 1003]);
    expect(sink.records[0]!.source).toEqual({ type: 'squid', id: `syslog:127.0.0.1:${port}` });
    expect(source.stats().received).toBe(4);
  });

  test('TCP newline framing and octet counting on one connection', async () => {
    const port = await freePort();
    const { sink } = await start({ tcp: `127.0.0.1:${port}` });
    const c = await tcpClient(port);
    const counted = (m: string) => `${Buffer.byteLength(m)} ${m}`;
    await write(c, `${rfc3164(1)}\n${rfc5424(2)}\n`);
    await write(c, counted(rfc5424(3)) + counted(rfc3164(4)));
    c.end();
    await waitFor(() => sink.records.length === 4, 10_000, 'TCP records');
    expect(sink.records.map((r) => r.bytesIn)).toEqual([1001, 1002, 1003, 1004]);
  });

  test('a slow client: bytes trickle in, frames split across writes', async () => {
    const port = await freePort();
    const { sink } = await start({ tcp: `127.0.0.1:${port}` });
    const c = await tcpClient(port);
    c.setNoDelay(true);
    const m1 = rfc5424(7);
    const payload = Buffer.from(`${Buffer.byteLength(m1)} ${m1}${rfc3164(8)}\n`);
    for (let i = 0; i < payload.length; i += 7) {
      await write(c, payload.subarray(i, i + 7));
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitFor(() => sink.records.length === 2, 10_000, 'slow records');
    expect(sink.records.map((r) => r.bytesIn)).toEqual([1007, 1008]);
    c.end();
  });

  test('UDP flood beyond the queue: bounded, every message accounted for', async () => {
    const port = await freePort();
    const { source, sink } = await start({ udp: `127.0.0.1:${port}`, queue_limit: 200, batch_size: 50 });
    sink.hold();
    const total = 5000;
    for (let i = 0; i < total; i += 500) await sendUdp(port, Array.from({ length: 500 }, (_, k) => rfc3164(i + k)));
    // Wait until the kernel has handed over what it kept (it may drop some itself under load).
    let last = -1;
    await waitFor(() => {
      const seen = source.stats().received;
      const settled = seen === last;
      last = seen;
      return settled && seen > 0;
    }, 20_000, 'UDP flood to settle');
    const held = source.stats();
    expect(held.peakQueued).toBeLessThanOrEqual(200);
    expect(held.dropped.queue_full).toBeGreaterThan(0);
    sink.release();
    await waitFor(() => source.stats().queued === 0 && sink.records.length + (source.stats().dropped.queue_full ?? 0) === source.stats().received, 10_000, 'drain');
    const after = source.stats();
    expect(sink.records.length + after.dropped.queue_full!).toBe(after.received);
    expect(after.received).toBeLessThanOrEqual(total);
  });

  test('TCP flood against a held sink: reading pauses, nothing is lost', async () => {
    const port = await freePort();
    const { source, sink } = await start({ tcp: `127.0.0.1:${port}`, queue_limit: 100, batch_size: 20 });
    sink.hold();
    const c = await tcpClient(port);
    const total = 100_000;
    let text = '';
    for (let i = 0; i < total; i++) text += rfc3164(i) + '\n';
    c.write(text, () => {});
    // The source stops reading while its queue is at the bound: what it has read stays put
    // and falls well short of what was sent (the rest waits in socket buffers).
    await waitFor(() => source.stats().queued >= 100, 10_000, 'queue filled');
    await new Promise((r) => setTimeout(r, 300));
    const read = source.stats().bytesRead;
    await new Promise((r) => setTimeout(r, 300));
    expect(source.stats().bytesRead).toBe(read);
    expect(read).toBeLessThan(Buffer.byteLength(text) / 2);
    // Over the bound by at most the rest of one socket chunk (64 KiB of ~200-byte messages).
    expect(source.stats().peakQueued).toBeLessThanOrEqual(100 + 65536 / 150);
    expect(source.stats().dropped.queue_full ?? 0).toBe(0);
    sink.release();
    c.end();
    await waitFor(() => sink.records.length === total, 30_000, 'all TCP records');
    expect(new Set(sink.records.map((r) => r.bytesIn)).size).toBe(total);
  });

  test('connections beyond max_connections are refused and counted; oversized messages dropped', async () => {
    const port = await freePort();
    const { source, sink } = await start({ tcp: `127.0.0.1:${port}`, max_connections: 2, max_message_size: 512 });
    const a = await tcpClient(port);
    const b = await tcpClient(port);
    await waitFor(() => source.stats().connections === 2, 5000, 'two connections');
    const extra = connect(port, '127.0.0.1');
    extra.on('error', () => {});
    await waitFor(() => (source.stats().dropped.max_connections ?? 0) === 1, 5000, 'refused connection');
    await write(a, 'x'.repeat(2000) + '\n' + rfc3164(1) + '\n');
    await write(b, `600 ${'y'.repeat(600)}` + `${Buffer.byteLength(rfc5424(2))} ${rfc5424(2)}`);
    await waitFor(() => sink.records.length === 2, 5000, 'records after drops');
    expect(source.stats().dropped.too_large).toBe(2);
    a.end();
    b.end();
    extra.destroy();
  });
});
