import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseSchema } from '../../../src/sinks/clickhouse/config.js';
import { applySchema, createClickhouseSink } from '../../../src/sinks/clickhouse/index.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { requireTool, tempDir } from '../../support/env.js';
import { incident } from './corpus.js';
import { deps, scalar } from './helpers.js';
import { startClickhouseServer, uniquePort, type ClickhouseServer } from './server.js';

// TLS to a real server: a throwaway CA signs a certificate for 127.0.0.1; the sink trusts it
// through `tls.ca_file`, and refuses the server without it.

const installed = requireTool('clickhouse-server') !== undefined && requireTool('openssl') !== undefined;
const certs = tempDir('egressd-ch-tls-');
let server: ClickhouseServer | undefined;
let httpsPort = 0;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: certs.path, stdio: 'ignore' });
}

beforeAll(async () => {
  if (!installed) return;
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=egressd test CA']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(certs.path, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  httpsPort = await uniquePort();
  server = await startClickhouseServer({
    extraConfig: `<https_port>${httpsPort}</https_port>
  <openSSL><server>
    <certificateFile>${certs.path}/server.pem</certificateFile>
    <privateKeyFile>${certs.path}/server.key</privateKeyFile>
    <verificationMode>none</verificationMode>
    <loadDefaultCAFile>false</loadDefaultCAFile>
  </server></openSSL>`,
  });
});

afterAll(async () => {
  await server?.stop();
  server?.remove();
  certs.remove();
});

describe.skipIf(!installed)('clickhouse over TLS', () => {
  it('writes through https when the CA is configured', async () => {
    const config = clickhouseSchema.parse({
      url: `https://127.0.0.1:${httpsPort}`,
      database: 'egressd_tls',
      tls: { ca_file: join(certs.path, 'ca.pem') },
      heartbeat_interval: 0,
      retention: { check_interval: 0 },
    });
    const sink = createClickhouseSink(config, deps(join(certs.path, 'state')));
    await sink.start();
    await sink.write([{ type: 'incident', change: { change: 'opened', incident: incident('tls-1', 1, 'open', ['10.0.0.1'], 'aa'.repeat(20), 1, 5) } }]);
    await sink.stop();
    expect(await scalar(server!, 'SELECT count() FROM egressd_tls.incidents')).toBe(1);
  });

  it('refuses a server whose certificate it cannot verify', async () => {
    const config = clickhouseSchema.parse({ url: `https://127.0.0.1:${httpsPort}`, database: 'egressd_tls2' });
    await expect(applySchema(config, silentLogger())).rejects.toThrow(/certificate/);
    expect(await scalar(server!, "SELECT count() FROM system.databases WHERE name = 'egressd_tls2'")).toBe(0);
  });

  it('names the option when a TLS file cannot be read', async () => {
    const config = clickhouseSchema.parse({ url: `https://127.0.0.1:${httpsPort}`, tls: { ca_file: join(certs.path, 'missing.pem') } });
    await expect(applySchema(config, silentLogger())).rejects.toThrow(/clickhouse\.tls\.ca_file/);
  });
});
