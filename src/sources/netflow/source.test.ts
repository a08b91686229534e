import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../record.js';
import { silentLogger } from '../../telemetry/logger.js';
import { createRegistry } from '../../telemetry/metrics.js';
import { IE, ByteWriter, ipfixMessage, set, templateRecord } from '../../decode/netflow/testdata/datagrams.js';
import { netflowSourceSchema } from './config.js';
import { createNetflowSource, exporterAddress } from './index.js';
import type { RecordBatchSink } from '../types.js';

function source(listen: string[], out: RecordBatchSink, extra: Record<string, unknown> = {}) {
  const registry = createRegistry();
  const s = createNetflowSource(netflowSourceSchema.parse({ type: 'netflow', listen, flush_interval: '20ms', ...extra }), {
    logger: silentLogger(),
    registry,
    stateDir: '/nonexistent',
    onFatal: (err) => {
      throw err;
    },
    audit: () => undefined,
    out,
  }) as ReturnType<typeof createNetflowSource> & { ports: number[] };
  return { s, registry };
}

const template = ipfixMessage(1, 1_700_000_000, [
  set(2, templateRecord(256, [[IE.sourceIPv4Address, 4], [IE.destinationIPv4Address, 4], [IE.octetDeltaCount, 4]])),
]);
const data = (n: number) => {
  const w = new ByteWriter();
  for (let i = 0; i < n; i++) w.ipv4('10.0.0.1').ipv4(`192.0.2.${i % 250}`).u32(100);
  return ipfixMessage(1, 1_700_000_000, [set(256, w.done())]);
};

async function send(port: number, datagrams: Uint8Array[]): Promise<void> {
  const socket = createSocket('udp4');
  for (const d of datagrams) await new Promise<void>((r) => socket.send(d, port, '127.0.0.1', () => r()));
  socket.close();
}

describe('netflow source', () => {
  it('config parses from {type} with defaults', () => {
    const c = netflowSourceSchema.parse({ type: 'netflow' });
    expect(c).toMatchObject({ listen: ['0.0.0.0:2055'], receive_buffer: 32 * 1024 * 1024, template_timeout: 1_800_000, flush_interval: 200 });
  });

  it('normalises IPv4-mapped exporter addresses', () => {
    expect(exporterAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(exporterAddress('2001:db8::1')).toBe('2001:db8::1');
  });

  it('is inert until started, and a port in use fails start with an IO error', async () => {
    const first = source(['127.0.0.1:0'], { push: async () => undefined });
    expect(first.s.ports).toEqual([]);
    await first.s.start();
    const port = first.s.ports[0]!;
    const second = source([`127.0.0.1:${port}`], { push: async () => undefined });
    await expect(second.s.start()).rejects.toMatchObject({ code: 'IO' });
    await first.s.stop();
  });

  it('batches records to the pipeline and, behind a slow pipeline, drops past its queue bound (counted)', async () => {
    const received: FlowRecord[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const { s, registry } = source(
      ['127.0.0.1:0'],
      {
        push: async (batch) => {
          await gate;
          received.push(...batch);
        },
      },
      { batch_size: 10, max_queued_batches: 2 },
    );
    await s.start();
    await send(s.ports[0]!, [template, ...Array.from({ length: 20 }, () => data(10))]);
    await new Promise((r) => setTimeout(r, 200));
    release();
    await s.stop();
    const text = await registry.metrics();
    const dropped = Number(/egressd_netflow_records_dropped_total\{reason="backpressure"\} (\d+)/.exec(text)?.[1] ?? 0);
    expect(dropped).toBeGreaterThan(0);
    expect(received.length + dropped).toBe(200);
    expect(received.every((r) => r.bytesOut === 100 && r.source.id === '127.0.0.1')).toBe(true);
  });
});
