import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../errors.js';
import type { LineDecoder } from '../../decode/types.js';
import { createVpcDecoder } from '../../decode/vpc/index.js';
import { createZeekDecoder } from '../../decode/zeek/index.js';
import type { FlowRecord } from '../../record.js';
import { silentLogger } from '../../telemetry/logger.js';
import { createRegistry, sourceMetrics } from '../../telemetry/metrics.js';
import { BATCH_SIZE } from './batcher.js';
import { replayLines } from './replay.js';
import { collectReplay } from './testing.js';

const vpcLine = (i: number) =>
  `2 123456789010 eni-1 10.0.${(i >> 8) & 255}.${i & 255} 192.0.2.9 ${1024 + (i % 60000)} 443 6 3 ${i} 1700000000 1700000060 ACCEPT OK`;

/** A decoder that echoes each line as a record's `url`, or rejects lines starting with `!`. */
const echoDecoder: LineDecoder = {
  decodeLine(line: string, out: FlowRecord[]) {
    if (line.startsWith('!')) throw new DecodeError(line.slice(1));
    if (line === 'boom') throw new TypeError('decoder bug');
    out.push({ ts: 0, tsEnd: 0, src: '', srcPort: 0, dst: '', dstPort: 0, proto: 0, bytesOut: 0, bytesIn: 0, packetsOut: 0, packetsIn: 0, url: line, source: { type: 'squid', id: 't' } });
  },
};

describe('replayLines', () => {
  it('decodes every line, in batches of at most BATCH_SIZE, and counts records, bytes and errors', async () => {
    const n = 5000;
    const lines = Array.from({ length: n }, (_, i) => vpcLine(i));
    lines.splice(100, 0, 'garbage', '2 1 eni-1 - - - - - - - 1 2 - NODATA');
    const text = lines.join('\n') + '\n';
    const outcome = await collectReplay(Readable.from(chunked(Buffer.from(text), 4096)), createVpcDecoder('t'));
    expect(outcome.records).toHaveLength(n);
    expect(outcome.records.map((r) => r.bytesOut)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(outcome.errors).toEqual({ field_count: 1, nodata: 1 });
    expect(outcome.bytes).toBe(Buffer.byteLength(text));
    expect(outcome.batches).toBeGreaterThanOrEqual(Math.ceil(n / BATCH_SIZE));
  });

  it('handles CRLF, blank lines and a final line without newline', async () => {
    const outcome = await collectReplay('a\r\n\r\nb\n\nc', echoDecoder);
    expect(outcome.records.map((r) => r.url)).toEqual(['a', 'b', 'c']);
  });

  it('counts named rejections and decoder exceptions instead of throwing', async () => {
    const outcome = await collectReplay('ok\n!bad_thing\nboom\n!bad_thing\nok2\n', echoDecoder);
    expect(outcome.records.map((r) => r.url)).toEqual(['ok', 'ok2']);
    expect(outcome.errors).toEqual({ bad_thing: 2, decoder_exception: 1 });
  });

  it('drops lines over the cap as line_too_long', async () => {
    const registry = createRegistry();
    const metrics = sourceMetrics(registry);
    const got: string[] = [];
    await replayLines(
      Readable.from([Buffer.from(`x\n${'y'.repeat(5000)}\nz\n`)]),
      echoDecoder,
      { sourceId: 't', metrics, logger: silentLogger(), out: { push: async (b) => void got.push(...b.map((r) => r.url ?? '')) } },
      { maxLineBytes: 1000, format: 'echo' },
    );
    expect(got).toEqual(['x', 'z']);
    const errors = (await metrics.errors.get()).values;
    expect(errors).toEqual([{ labels: { source: 'echo', id: 't', reason: 'line_too_long' }, value: 1 }]);
  });

  it('labels metrics with the decoder format and the source id', async () => {
    const registry = createRegistry();
    const metrics = sourceMetrics(registry);
    await replayLines(Readable.from([Buffer.from(vpcLine(1) + '\n')]), createVpcDecoder('x'), {
      sourceId: 'flows.log',
      metrics,
      logger: silentLogger(),
      out: { push: async () => {} },
    });
    expect((await metrics.records.get()).values).toEqual([{ labels: { source: 'vpc', id: 'flows.log' }, value: 1 }]);
  });

  it('awaits each push before decoding further (backpressure)', async () => {
    const text = Array.from({ length: 3 * BATCH_SIZE + 10 }, (_, i) => vpcLine(i)).join('\n');
    let inFlight = 0;
    let maxInFlight = 0;
    let total = 0;
    await replayLines(Readable.from(chunked(Buffer.from(text), 65536)), createVpcDecoder('t'), {
      sourceId: 't',
      metrics: sourceMetrics(createRegistry()),
      logger: silentLogger(),
      out: {
        push: async (batch) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          expect(batch.length).toBeLessThanOrEqual(BATCH_SIZE);
          await new Promise((r) => setTimeout(r, 5));
          total += batch.length;
          inFlight--;
        },
      },
    });
    expect(maxInFlight).toBe(1);
    expect(total).toBe(3 * BATCH_SIZE + 10);
  });

  it('stops on abort, pushing what was decoded, even when the input never ends', async () => {
    const input = new Readable({ read() {} });
    const controller = new AbortController();
    const got: FlowRecord[] = [];
    const done = replayLines(input, createVpcDecoder('t'), {
      sourceId: 't',
      metrics: sourceMetrics(createRegistry()),
      logger: silentLogger(),
      signal: controller.signal,
      out: { push: async (b) => void got.push(...b) },
    });
    input.push(Buffer.from(`${vpcLine(1)}\n${vpcLine(2)}\n${vpcLine(3).slice(0, 20)}`));
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await done;
    expect(got.map((r) => r.bytesOut)).toEqual([1, 2]);
  });

  it('never throws on random or mutated input (fuzz), and every line is a record or a counted error', async () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const zeekHeader = '#separator \\x09\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\n';
    const seeds = [
      vpcLine(7),
      '1700000000.5\t10.0.0.1\t1234\t192.0.2.1\t443\ttcp\tssl\t2.25\t10\t20',
      '{"ts":1700000000.5,"id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"192.0.2.1","id.resp_p":80,"proto":"tcp","service":"http"}',
      'version srcaddr dstaddr start end',
    ];
    const alphabet = ' \t-.:,{}"#\\x0123456789abcdefNODATAREJECT\u00ff\u0000\r';
    for (const make of [createVpcDecoder, createZeekDecoder]) {
      for (let round = 0; round < 20; round++) {
        const lines: string[] = [];
        for (let i = 0; i < 300; i++) {
          const base = seeds[Math.floor(rand() * seeds.length)]!;
          const chars = [...base];
          const edits = Math.floor(rand() * 6);
          for (let e = 0; e < edits; e++) {
            const at = Math.floor(rand() * (chars.length + 1));
            const c = alphabet[Math.floor(rand() * alphabet.length)]!;
            const op = rand();
            if (op < 0.33) chars.splice(at, 1);
            else if (op < 0.66) chars.splice(at, 0, c);
            else chars[at] = c;
          }
          lines.push(rand() < 0.05 ? Buffer.from(Array.from({ length: 40 }, () => Math.floor(rand() * 256))).toString('latin1') : chars.join(''));
        }
        const text = zeekHeader + lines.join('\n') + '\n';
        const outcome = await collectReplay(Readable.from(chunked(Buffer.from(text, 'latin1'), 257)), make('fuzz'));
        const errorCount = Object.values(outcome.errors).reduce((a, b) => a + b, 0);
        // Random bytes may hold newlines: count lines the way the format defines them.
        const nonBlank = Buffer.from(text, 'latin1').toString('utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
        const dataLines = nonBlank.filter((l) => !l.startsWith('#'));
        // Blank lines and headers yield neither; every data line is a record or a counted error.
        expect(outcome.records.length + errorCount).toBeLessThanOrEqual(nonBlank.length);
        if (make === createZeekDecoder) expect(outcome.records.length + errorCount).toBeGreaterThanOrEqual(dataLines.length);
        else expect(outcome.records.length + errorCount).toBeGreaterThan(dataLines.length / 2);
        expect(outcome.errors.decoder_exception).toBeUndefined();
      }
    }
  });
});

function chunked(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}
