import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FlowRecord } from '../../../src/record.js';
import { syslogSourceSchema } from '../../../src/sources/syslog/config.js';
import { createSyslogSource, type SyslogSource } from '../../../src/sources/syslog/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { freePort, waitFor } from '../../support/env.js';
import { decodeLog, driveTraffic, startSquid, type SquidHarness } from './harness.js';

// Squid shipping its access log over the network (its udp:// and tcp:// log modules) to the
// syslog source, next to the same log written to a file: the records must be the same.

function startSource(options: Record<string, unknown>, records: FlowRecord[]): Promise<SyslogSource> {
  const source = createSyslogSource(syslogSourceSchema.parse({ type: 'syslog', ...options }), {
    logger: silentLogger(),
    registry: new Registry(),
    stateDir: '/nonexistent',
    onFatal: (err) => {
      throw err;
    },
    audit: () => {},
    out: {
      push: async (batch) => {
        records.push(...batch);
      },
    },
  });
  return source.start().then(() => source);
}

/** What must match between transports: everything but the source id. */
const facts = (r: FlowRecord) => JSON.stringify({ ...r, source: undefined });

describe('squid log over udp:// and tcp:// into the syslog source', () => {
  let h: SquidHarness | undefined;
  const viaUdp: FlowRecord[] = [];
  const viaTcp: FlowRecord[] = [];
  const sources: SyslogSource[] = [];

  beforeAll(async () => {
    const udpPort = await freePort();
    const tcpPort = await freePort();
    // The listeners come first: Squid connects its tcp:// log at start.
    sources.push(await startSource({ udp: `127.0.0.1:${udpPort}`, id: 'squid-udp' }, viaUdp));
    sources.push(await startSource({ tcp: `127.0.0.1:${tcpPort}`, id: 'squid-tcp' }, viaTcp));
    h = await startSquid({ extraAccessLogs: [`udp://127.0.0.1:${udpPort}`, `tcp://127.0.0.1:${tcpPort}`] });
    if (h) await driveTraffic(h);
  });
  afterAll(async () => {
    await h?.stop();
    for (const s of sources) await s.stop();
  });

  test('UDP and TCP deliver the same records as the file', async () => {
    if (!h) return;
    const harness = h;
    // Squid's udp:// module sends full buffers; stopping it flushes the rest.
    await waitFor(() => decodeLog(harness.accessLog).lines > 60, 30_000, 'access.log');
    await harness.stopProxy();
    let fromFile: FlowRecord[] = [];
    try {
      await waitFor(
        () => {
          fromFile = decodeLog(harness.accessLog).records;
          return fromFile.length > 60 && viaTcp.length >= fromFile.length && viaUdp.length >= fromFile.length;
        },
        30_000,
        'records over UDP and TCP',
      );
    } catch (err) {
      const stats = JSON.stringify(sources.map((s) => s.stats()));
      throw new Error(`${String(err)}: file ${fromFile.length}, udp ${viaUdp.length}, tcp ${viaTcp.length}; ${stats}`);
    }
    const expected = fromFile.map(facts).sort();
    expect(viaTcp.map(facts).sort()).toEqual(expected);
    expect(viaUdp.map(facts).sort()).toEqual(expected);
    expect(viaTcp[0]!.source).toEqual({ type: 'squid', id: 'squid-tcp' });
    for (const s of sources) {
      expect(s.stats().dropped).toEqual({});
      // Only the readiness probe's request-less line, as in the file.
      expect(Object.keys(s.stats().decodeErrors).filter((k) => k !== 'no_request')).toEqual([]);
    }
    expect(viaUdp.some((r) => r.app?.via === 'tracker')).toBe(true);
  });
});
