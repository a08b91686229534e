import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Component } from '../daemon/component.js';
import { parseListenAddress } from '../config/common.js';
import { EgressdError } from '../errors.js';
import type { Logger } from './logger.js';

export interface TelemetryServerOptions {
  /** `host:port`; port 0 picks a free one (tests). Empty string: no server. */
  listen: string;
  registry: Registry;
  logger: Logger;
  /** `/readyz` answers 200 while this returns true, 503 otherwise. */
  ready: () => boolean;
}

export interface TelemetryServer extends Component {
  /** The bound address once started. */
  address(): { host: string; port: number } | undefined;
}

/** `/metrics` for Prometheus, `/healthz` (process up), `/readyz` (pipeline ready). Inert until start(). */
export function createTelemetryServer(options: TelemetryServerOptions): TelemetryServer {
  const target = options.listen === '' ? undefined : parseListenAddress(options.listen);
  if (options.listen !== '' && !target) {
    throw new EgressdError('CONFIG_INVALID', `telemetry.listen: expected host:port, got ${JSON.stringify(options.listen)}`);
  }
  let server: Server | undefined;
  let bound: { host: string; port: number } | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
    if (!known) return reply(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return reply(res, 405, 'method not allowed\n');
    }
    if (path === '/healthz') return reply(res, 200, 'ok\n');
    if (path === '/readyz') return options.ready() ? reply(res, 200, 'ready\n') : reply(res, 503, 'not ready\n');
    const body = await options.registry.metrics();
    reply(res, 200, body, options.registry.contentType);
  }

  return {
    name: 'telemetry',
    address: () => bound,
    async start() {
      if (!target || server) return;
      const s = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          options.logger.error({ err }, 'telemetry: request failed');
          if (!res.headersSent) reply(res, 500, 'internal error\n');
          else res.destroy();
        });
      });
      s.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(target.port, target.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      s.on('error', (err) => options.logger.error({ err }, 'telemetry server error'));
      server = s;
      const addr = s.address() as AddressInfo;
      bound = { host: addr.address, port: addr.port };
      options.logger.info({ address: bound }, 'telemetry listening');
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      bound = undefined;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
  };
}

function reply(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
