import { createReadStream, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createVpcDecoder } from '../../../src/decode/vpc/index.js';
import { createZeekDecoder } from '../../../src/decode/zeek/index.js';
import { collectReplay, type ReplayOutcome } from '../../../src/sources/file/testing.js';
import { sharedFixture } from '../../support/env.js';

// Public Zeek and VPC samples (../shared/fixtures) through the real reader and decoders: every
// data line is either a record or a counted, named error, and known values come out right.

async function replay(relative: string, format: 'zeek' | 'vpc'): Promise<{ outcome: ReplayOutcome; dataLines: number } | undefined> {
  const path = sharedFixture(relative);
  if (!path) return undefined;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const headers = format === 'zeek' ? lines.filter((l) => l.startsWith('#')).length : /^[a-z]/.test(lines[0] ?? '') ? 1 : 0;
  const decoder = format === 'zeek' ? createZeekDecoder(relative) : createVpcDecoder(relative);
  const outcome = await collectReplay(createReadStream(path), decoder, relative);
  const errors = Object.values(outcome.errors).reduce((a, b) => a + b, 0);
  expect(outcome.records.length + errors).toBe(lines.length - headers);
  return { outcome, dataLines: lines.length - headers };
}

describe('public Zeek conn.log samples', () => {
  it('brimdata TSV conn.log: 92 connections, services mapped', async () => {
    const r = await replay('zeek/brimdata-zed-conn.log', 'zeek');
    if (!r) return;
    expect(r.outcome.errors).toEqual({});
    expect(r.outcome.records).toHaveLength(92);
    expect(r.outcome.records[0]).toMatchObject({
      ts: 1521911721255,
      tsEnd: 1521911721260,
      src: '10.164.94.120',
      srcPort: 39681,
      dst: '10.47.3.155',
      dstPort: 3389,
      proto: 6,
      bytesOut: 97,
      bytesIn: 19,
      packetsOut: 10,
      packetsIn: 6,
      source: { type: 'zeek' },
    });
    const apps = r.outcome.records.map((rec) => rec.app?.name ?? '-');
    expect(apps.filter((a) => a === 'http')).toHaveLength(14);
    expect(apps.filter((a) => a === 'tls')).toHaveLength(2);
  });

  it('current format with ip_proto (masked timestamps are counted as bad_timestamp)', async () => {
    const r = await replay('zeek/zeek-baseline-dynamic-filter-conn.log', 'zeek');
    if (!r) return;
    expect(r.outcome.records).toHaveLength(0);
    expect(r.outcome.errors).toEqual({ bad_timestamp: r.dataLines });
  });

  it('conn.log with #close', async () => {
    const r = await replay('zeek/zeek-root-conn.log', 'zeek');
    if (!r) return;
    expect(r.outcome.records).toEqual([
      expect.objectContaining({ src: '192.168.1.99', srcPort: 62978, dst: '192.168.1.1', dstPort: 53, proto: 17, bytesOut: 55, bytesIn: 134, app: { name: 'dns' } }),
    ]);
  });

  it('JSON conn.log', async () => {
    const r = await replay('zeek/zeek-docs-conn-json.log', 'zeek');
    if (!r) return;
    expect(r.outcome.records).toHaveLength(2);
    expect(r.outcome.records[1]).toMatchObject({
      ts: 1591367999430,
      tsEnd: 1591367999684,
      src: '192.168.4.76',
      dst: '31.3.245.133',
      dstPort: 80,
      proto: 6,
      bytesOut: 77,
      bytesIn: 295,
      packetsOut: 6,
      packetsIn: 4,
      app: { name: 'http' },
    });
  });
});

describe('public VPC Flow Logs samples', () => {
  it('v2 with header: accepted flows are records, rejected ones are counted', async () => {
    const r = await replay('vpcflow/beats-accept-reject-traffic.log', 'vpc');
    if (!r) return;
    expect(r.outcome.errors).toEqual({ rejected: 2 });
    expect(r.outcome.records[0]).toMatchObject({ src: '78.24.182.42', dst: '158.109.0.1', dstPort: 22, bytesOut: 4249, packetsOut: 20, bytesIn: 0, ts: 1418530010000, tsEnd: 1418530070000 });
    expect(r.outcome.records[1]).toMatchObject({ proto: 1, srcPort: 0, dstPort: 0, bytesOut: 336 });
  });

  it('v2 without header: IPv6, NODATA, SKIPDATA', async () => {
    const r = await replay('vpcflow/integrations-test-extra-samples.log', 'vpc');
    if (!r) return;
    expect(r.outcome.errors).toEqual({ nodata: 1, skipdata: 1, rejected: 2 });
    expect(r.outcome.records).toHaveLength(3);
    expect(r.outcome.records[0]).toMatchObject({ src: '2001:db8:1234:a100:8d6e:3477:df66:f105', dst: '2001:db8:1234:a102:3304:8879:34cf:4071', srcPort: 34892, dstPort: 22, bytesOut: 8855 });
  });

  it('v3 custom format (tcp-flags) by its header, including a line with a doubled blank', async () => {
    const r = await replay('vpcflow/awsdocs-tcp-flag-sequence-v3-custom.log', 'vpc');
    if (!r) return;
    expect(r.outcome.errors).toEqual({});
    expect(r.outcome.records).toHaveLength(8);
    const big = r.outcome.records.find((rec) => rec.bytesOut === 23294588);
    expect(big).toMatchObject({ src: '52.213.180.42', srcPort: 43418, dst: '10.0.0.62', dstPort: 5001, packetsOut: 15774, ts: 1566848933000, tsEnd: 1566849113000 });
    expect(r.outcome.records[7]).toMatchObject({ src: '10.0.0.62', dst: '52.213.180.42', bytesOut: 967 });
  });

  it('v5 custom format with service and traffic path', async () => {
    const r = await replay('vpcflow/awsdocs-v5-service-traffic-path.log', 'vpc');
    if (!r) return;
    expect(r.outcome.records.map((rec) => [rec.src, rec.dst, rec.bytesOut, rec.packetsOut])).toEqual([
      ['52.95.128.179', '10.0.0.71', 15044, 14],
      ['10.0.0.71', '52.95.128.179', 471, 7],
    ]);
  });

  it('v5 all fields without header (a rejected flow)', async () => {
    const r = await replay('vpcflow/integrations-test-v5-all-fields.log', 'vpc');
    if (!r) return;
    expect(r.outcome.errors).toEqual({ rejected: 1 });
  });

  it('NAT gateway custom format without times: counted as no_timestamp', async () => {
    const r = await replay('vpcflow/beats-custom-nat-gateway.log', 'vpc');
    if (!r) return;
    expect(r.outcome.errors).toEqual({ no_timestamp: 2 });
  });
});
