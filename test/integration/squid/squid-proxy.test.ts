import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../support/env.js';
import { CLIENT_A, CLIENT_B, INFO_HASH, OBJECTS, OBJECT_SIZE, ORIGIN_HOST, decodeLog, driveTraffic, startSquid, type SquidHarness } from './harness.js';

// A real Squid on loopback in front of a local HTTP server: a scripted mass download, a
// .torrent, a tracker announce and a CONNECT tunnel go through it, then its own access.log
// is decoded.

describe('real squid access.log', () => {
  let h: SquidHarness | undefined;
  let requests = 0;

  beforeAll(async () => {
    h = await startSquid();
    if (h) requests = await driveTraffic(h);
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('every request is a decoded record with its facts', async () => {
    if (!h) return;
    const harness = h;
    await waitFor(() => existsSync(harness.accessLog) && decodeLog(harness.accessLog).records.length >= requests, 20_000, 'access.log lines');
    const { records, errors, lines } = decodeLog(harness.accessLog);
    // The readiness probe (connect, then close) is logged as a request-less transaction:
    // counted, no record.
    const probes = errors.get('no_request') ?? 0;
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(errors.size).toBe(1);
    expect(records.length + probes).toBe(lines);
    expect(records).toHaveLength(requests);

    const media = records.filter((r) => r.object?.kind === 'media' && r.src === CLIENT_A);
    expect(media).toHaveLength(OBJECTS);
    for (const r of media) {
      expect(r.dst).toBe(ORIGIN_HOST);
      expect(r.dstPort).toBe(harness.originPort);
      expect(r.method).toBe('GET');
      expect(r.status).toBe(200);
      expect(r.bytesIn).toBeGreaterThan(OBJECT_SIZE);
      expect(r.contentType).toBe('video/mp4');
      expect(r.tsEnd).toBeGreaterThanOrEqual(r.ts);
      expect(r.object!.sequence!.stem).toBe(`${ORIGIN_HOST}:${harness.originPort}/media/episode-#.mp4`);
      expect(r.object!.key).not.toContain('?');
    }
    expect(media.map((r) => r.object!.sequence!.n).sort((a, b) => a - b)).toEqual(Array.from({ length: OBJECTS }, (_, i) => i + 1));
    // The same objects fetched by a second client share their keys.
    const keysA = new Set(media.map((r) => r.object!.key));
    const fromB = records.filter((r) => r.src === CLIENT_B && r.object?.kind === 'media');
    expect(fromB).toHaveLength(3);
    for (const r of fromB) expect(keysA.has(r.object!.key)).toBe(true);

    const torrent = records.find((r) => r.url?.endsWith('.torrent'))!;
    expect(torrent.src).toBe(CLIENT_B);
    expect(torrent.app).toMatchObject({ name: 'bittorrent', via: 'torrent_file' });
    expect(torrent.object?.kind).toBe('torrent');

    const announce = records.find((r) => r.app?.via === 'tracker')!;
    expect(announce.app).toMatchObject({
      name: 'bittorrent',
      infoHash: INFO_HASH,
      peerId: '-TR3000-0123456789ab',
      client: 'Transmission',
      tracker: `http://${ORIGIN_HOST}:${harness.originPort}/announce`,
    });

    const missing = records.find((r) => r.url?.endsWith('/missing.html'))!;
    expect(missing.status).toBe(404);

    const tunnel = records.find((r) => r.method === 'CONNECT')!;
    expect(tunnel).toMatchObject({ src: CLIENT_B, dst: ORIGIN_HOST, dstPort: harness.originPort, url: `${ORIGIN_HOST}:${harness.originPort}` });
    expect(tunnel.bytesIn).toBeGreaterThan(OBJECT_SIZE);
    expect(tunnel.object).toBeUndefined();
  });
});
