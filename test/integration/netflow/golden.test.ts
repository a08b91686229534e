import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../src/record.js';
import { netflowSourceSchema } from '../../../src/sources/netflow/config.js';
import { replayNetflowPcap } from '../../../src/sources/netflow/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { createRegistry, sourceMetrics } from '../../../src/telemetry/metrics.js';
import { REPO_ROOT, requireTool, sharedFixture } from '../../support/env.js';
import { aggregate, groundTruth } from './ground-truth.js';

// Golden tests: softflowd (Debian, 1.1.0) exported public captures as NetFlow v5, v9 and IPFIX;
// the exports were recorded with tcpdump by src/decode/netflow/testdata/make-softflowd-exports.sh.
// Every decoded flow must match the capture's own 5-tuples, byte and packet totals and times.

const TESTDATA = join(REPO_ROOT, 'src', 'decode', 'netflow', 'testdata');

const CASES = [
  { name: 'loopback', capture: 'pcap/loopback-http-udp.pcap', versions: [5, 9, 10] },
  { name: 'bittorrent', capture: 'ndpi/bittorrent/bittorrent.pcap', versions: [5, 9, 10] },
  { name: 'ipv6', capture: 'ndpi/bittorrent/lru_ipv6_caches.pcapng', versions: [9, 10] },
];

async function replay(file: string) {
  const registry = createRegistry();
  const records: FlowRecord[] = [];
  await replayNetflowPcap(
    createReadStream(file),
    {
      sourceId: file,
      out: { push: async (batch) => void records.push(...batch) },
      metrics: sourceMetrics(registry),
      logger: silentLogger(),
    },
    netflowSourceSchema.parse({ type: 'netflow' }),
    registry,
  );
  return { records, registry };
}

describe('softflowd exports decode to the flows of the original capture', () => {
  const tshark = requireTool('tshark');
  const truths = new Map<string, ReturnType<typeof groundTruth>>();
  for (const c of CASES) {
    for (const version of c.versions) {
      it(`${c.name} as ${version === 10 ? 'IPFIX' : `NetFlow v${version}`}`, async (ctx) => {
        const capture = sharedFixture(c.capture);
        if (!capture || !tshark) return ctx.skip();
        const truth = truths.get(capture) ?? groundTruth(tshark, capture);
        truths.set(capture, truth);
        const { records, registry } = await replay(join(TESTDATA, `softflowd-${c.name}-v${version}.pcap`));
        const decoded = aggregate(records);

        // NetFlow v5 has no IPv6 records.
        const expected = [...truth.values()].filter((f) => version !== 5 || !f.v6);
        expect(expected.length).toBeGreaterThan(0);
        expect([...decoded.keys()].sort()).toEqual(expected.map((f) => f.key).sort());
        for (const want of expected) {
          const got = decoded.get(want.key)!;
          expect({ key: want.key, bytes: got.bytes, packets: got.packets }).toEqual({
            key: want.key,
            bytes: want.bytes,
            packets: want.packets,
          });
          // softflowd stamps both directions with the connection's times; millisecond precision
          // (v5: sysUptime-relative milliseconds plus the header's nanoseconds).
          expect(Math.abs(got.first - want.connectionFirst!), `${want.key} start`).toBeLessThanOrEqual(1);
          expect(Math.abs(got.last - want.connectionLast!), `${want.key} end`).toBeLessThanOrEqual(1);
        }
        for (const r of records) {
          expect(r.source).toEqual({ type: version === 10 ? 'ipfix' : 'netflow', id: '127.0.0.1' });
          expect(r.bytesIn).toBe(0);
        }
        const text = await registry.metrics();
        const v = version === 5 ? 'v5' : version === 9 ? 'v9' : 'ipfix';
        expect(text).toContain(`egressd_netflow_records_total{version="${v}"} ${records.length}`);
        expect(text).not.toMatch(/egressd_netflow_decode_errors_total\{reason="[a-z_]+"\} [1-9]/);
      });
    }
  }
});
