import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DecodeError } from '../../../src/errors.js';
import type { FlowRecord } from '../../../src/record.js';
import { createSquidDecoder } from '../../../src/decode/squid/index.js';
import { freePort, requireTool, startProcess, stopProcess, tempDir, waitFor } from '../../support/env.js';

// Test harness: a real Squid on loopback in front of a local HTTP origin, and the traffic
// the Squid tests drive through it (a scripted mass download, a .torrent, a tracker announce,
// a CONNECT tunnel). Clients use 127.0.0.2 and 127.0.0.4, the origin listens on 127.0.0.3, so the
// log has distinct client and server addresses as on a gateway.

export const ORIGIN_HOST = '127.0.0.3';
export const CLIENT_A = '127.0.0.2';
export const CLIENT_B = '127.0.0.4';
export const INFO_HASH = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
export const OBJECTS = 60;
/** Above the detection rules' large-object size (1 MiB). */
export const OBJECT_SIZE = 1536 * 1024;

const infoHashEscaped = INFO_HASH.match(/../g)!.map((h) => `%${h}`).join('');

export interface SquidHarness {
  dir: string;
  accessLog: string;
  proxyPort: number;
  originPort: number;
  /** Stop Squid only (it flushes its logs); files stay for reading. */
  stopProxy: () => Promise<void>;
  stop: () => Promise<void>;
}

/** Start an origin HTTP server and a Squid in front of it; undefined when squid is missing. */
export async function startSquid(options: { extraAccessLogs?: string[] } = {}): Promise<SquidHarness | undefined> {
  const squid = requireTool('squid');
  if (!squid) return undefined;
  const temp = tempDir('egressd-squid-');
  // Squid drops to the `proxy` user when started as root: it must write its logs here.
  chmodSync(temp.path, 0o777);
  const accessLog = join(temp.path, 'access.log');

  const body = Buffer.alloc(OBJECT_SIZE, 0x61);
  const origin: Server = createHttpServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/announce')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('d8:intervali1800e5:peers0:e');
    } else if (url.endsWith('.torrent')) {
      res.writeHead(200, { 'content-type': 'application/x-bittorrent' });
      res.end('d8:announce30:http://tracker.example/announce4:infod4:name3:isoee');
    } else if (url.startsWith('/media/')) {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': body.length });
      res.end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((r) => origin.listen(0, ORIGIN_HOST, () => r()));
  const originPort = (origin.address() as AddressInfo).port;

  const proxyPort = await freePort();
  const conf = join(temp.path, 'squid.conf');
  writeFileSync(
    conf,
    [
      `http_port 127.0.0.1:${proxyPort}`,
      'acl loopback_clients src 127.0.0.0/8',
      'http_access allow loopback_clients',
      'http_access deny all',
      'cache deny all',
      'cache_mem 8 MB',
      `access_log stdio:${accessLog} squid`,
      ...(options.extraAccessLogs ?? []).map((target) => `access_log ${target} squid`),
      `cache_log ${join(temp.path, 'cache.log')}`,
      `pid_filename ${join(temp.path, 'squid.pid')}`,
      `coredump_dir ${temp.path}`,
      'cache_effective_user proxy',
      // Keep tracker query strings (info_hash) in the log: Squid strips them by default.
      'strip_query_terms off',
      'shutdown_lifetime 1 seconds',
      'dns_nameservers 127.0.0.1',
      'icp_port 0',
      'htcp_port 0',
      'pinger_enable off',
      'visible_hostname egressd-test',
      'forwarded_for delete',
      'via off',
      '',
    ].join('\n'),
  );
  const proc = startProcess(squid, ['-N', '-f', conf]);
  try {
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(proxyPort, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      30_000,
      'squid to listen',
    );
  } catch (err) {
    await stopProcess(proc.child);
    throw new Error(`squid did not start: ${String(err)}\n${proc.output()}`);
  }
  let stopped = false;
  return {
    dir: temp.path,
    accessLog,
    proxyPort,
    originPort,
    stopProxy: () => stopProcess(proc.child, 10_000),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopProcess(proc.child, 10_000);
      await new Promise<void>((r) => origin.close(() => r()));
      temp.remove();
    },
  };
}

/** One GET through the proxy from a given loopback client address; resolves with the body size. */
export function proxyGet(h: SquidHarness, path: string, from: string, userAgent = 'curl/8.5.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: h.proxyPort,
        localAddress: from,
        method: 'GET',
        path: `http://${ORIGIN_HOST}:${h.originPort}${path}`,
        headers: { host: `${ORIGIN_HOST}:${h.originPort}`, 'user-agent': userAgent },
        agent: false,
      },
      (res) => {
        let n = 0;
        res.on('data', (d: Buffer) => (n += d.length));
        res.on('end', () => resolve(n));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A CONNECT tunnel to the origin with one request inside it. */
export function proxyConnect(h: SquidHarness, from: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: h.proxyPort,
      localAddress: from,
      method: 'CONNECT',
      path: `${ORIGIN_HOST}:${h.originPort}`,
      agent: false,
    });
    req.on('connect', (_res, socket) => {
      socket.write(`GET /media/tunnelled.mp4 HTTP/1.1\r\nHost: ${ORIGIN_HOST}\r\nConnection: close\r\n\r\n`);
      socket.on('data', () => {});
      socket.on('end', () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The traffic every Squid test drives: a mass download by one client; a few downloads and BitTorrent by another. */
export async function driveTraffic(h: SquidHarness): Promise<number> {
  let requests = 0;
  for (let i = 1; i <= OBJECTS; i++) {
    await proxyGet(h, `/media/episode-${String(i).padStart(4, '0')}.mp4?session=${i}`, CLIENT_A, 'python-requests/2.31');
    requests++;
  }
  for (let i = 1; i <= 3; i++) {
    await proxyGet(h, `/media/episode-${String(i).padStart(4, '0')}.mp4`, CLIENT_B);
    requests++;
  }
  // BitTorrent from the other client: detection scores bulk acquisition only for hosts
  // without an open BitTorrent incident.
  await proxyGet(h, '/torrents/debian-12.iso.torrent', CLIENT_B, 'Transmission/3.00');
  await proxyGet(
    h,
    `/announce?info_hash=${infoHashEscaped}&peer_id=-TR3000-0123456789ab&port=51413&uploaded=0&downloaded=0&left=1000&event=started`,
    CLIENT_B,
    'Transmission/3.00',
  );
  await proxyGet(h, '/missing.html', CLIENT_B);
  await proxyConnect(h, CLIENT_B);
  requests += 4;
  return requests;
}

export function decodeLog(path: string): { records: FlowRecord[]; errors: Map<string, number>; lines: number } {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  const decoder = createSquidDecoder(path, { logformat: 'squid' });
  const records: FlowRecord[] = [];
  const errors = new Map<string, number>();
  for (const line of lines) {
    try {
      decoder.decodeLine(line, records);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      errors.set(err.reason, (errors.get(err.reason) ?? 0) + 1);
    }
  }
  return { records, errors, lines: lines.length };
}

