import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/env.js';
import { silentLogger } from './logger.js';
import { counter } from './metrics.js';
import { createTelemetryServer, type TelemetryServer } from './server.js';

const started: TelemetryServer[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
});

function server(listen: string, ready: () => boolean = () => true, registry = new Registry()): TelemetryServer {
  const s = createTelemetryServer({ listen, registry, logger: silentLogger(), ready });
  started.push(s);
  return s;
}

function url(s: TelemetryServer, path: string): string {
  const a = s.address()!;
  return `http://${a.host}:${a.port}${path}`;
}

describe('telemetry server', () => {
  it('is inert until start and serves /metrics, /healthz, /readyz on a real loopback port', async () => {
    const registry = new Registry();
    counter(registry, 'test_things_total', 'Things seen by the test').inc(3);
    let ready = false;
    const port = await freePort();
    const s = server(`127.0.0.1:${port}`, () => ready, registry);
    expect(s.address()).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    await s.start();
    expect(s.address()).toEqual({ host: '127.0.0.1', port });

    const metrics = await fetch(url(s, '/metrics'));
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe(registry.contentType);
    expect(await metrics.text()).toContain('egressd_test_things_total 3');

    expect((await fetch(url(s, '/healthz'))).status).toBe(200);
    expect((await fetch(url(s, '/readyz'))).status).toBe(503);
    ready = true;
    expect((await fetch(url(s, '/readyz'))).status).toBe(200);
    expect((await fetch(url(s, '/readyz?verbose=1'))).status).toBe(200);

    expect((await fetch(url(s, '/'))).status).toBe(404);
    expect((await fetch(url(s, '/metricsx'))).status).toBe(404);
    expect((await fetch(url(s, '/metrics'), { method: 'POST', body: 'x' })).status).toBe(405);
    const head = await fetch(url(s, '/healthz'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');

    await s.stop();
    expect(s.address()).toBeUndefined();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('binds port 0 to a free port and exposes it', async () => {
    const s = server('127.0.0.1:0');
    await s.start();
    const { port } = s.address()!;
    expect(port).toBeGreaterThan(0);
    expect((await fetch(url(s, '/healthz'))).status).toBe(200);
  });

  it('stops promptly with a keep-alive connection open', async () => {
    const s = server('127.0.0.1:0');
    await s.start();
    await fetch(url(s, '/metrics'), { headers: { connection: 'keep-alive' } });
    const t = Date.now();
    await s.stop();
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('fails start when the port is taken', async () => {
    const a = server('127.0.0.1:0');
    await a.start();
    const b = server(`127.0.0.1:${a.address()!.port}`);
    await expect(b.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('does nothing when listen is empty, and rejects a bad address at construction', async () => {
    const s = server('');
    await s.start();
    expect(s.address()).toBeUndefined();
    expect(() => server('nonsense')).toThrow(/telemetry.listen/);
  });
});
