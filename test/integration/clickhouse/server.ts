import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, requireTool, startProcess, stopProcess, tempDir, waitFor } from '../../support/env.js';

// A real clickhouse-server (Debian's 18.16, or whatever `clickhouse-server` is on PATH) on
// loopback with its own data directory, for integration tests. Reusable by any area:
//
//   const server = await startClickhouseServer();   // undefined (skip) when not installed outside CI
//   ... server.url, await server.query('SELECT 1') ...
//   await server.stop(); server.remove();
//
// `stop()` then `start()` restarts it on the same ports and data (outage tests).

export interface ClickhouseServerOptions {
  /** Extra users: name → password (plain text). `default` has no password. */
  users?: Record<string, string>;
  /** Extra XML inserted into config.xml (remote_servers, zookeeper, macros...). */
  extraConfig?: string;
  /** Use these ports instead of free ones. */
  httpPort?: number;
  tcpPort?: number;
  interserverPort?: number;
}

export interface ClickhouseServer {
  url: string;
  httpPort: number;
  tcpPort: number;
  interserverPort: number;
  dir: string;
  running(): boolean;
  start(): Promise<void>;
  /** SIGTERM by PID (SIGKILL after a grace period). */
  stop(): Promise<void>;
  /** Run SQL over HTTP; resolves the response text, rejects with the server's message. */
  query(sql: string, user?: string, password?: string): Promise<string>;
  /** Recent server output and error log, for failure messages. */
  output(): string;
  remove(): void;
}

function configXml(dir: string, http: number, tcp: number, interserver: number, extra: string): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${dir}/log/server.log</log>
    <errorlog>${dir}/log/error.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${http}</http_port>
  <tcp_port>${tcp}</tcp_port>
  <interserver_http_port>${interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <!-- longer than the test clients keep idle sockets (undici: 4 s), so the client always closes first -->
  <keep_alive_timeout>10</keep_alive_timeout>
${extra}
</yandex>
`;
}

function usersXml(users: Record<string, string>): string {
  const user = (name: string, password: string) => `
    <${name}>
      <password>${password}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${name}>`;
  return `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>${user('default', '')}${Object.entries(users)
    .map(([n, p]) => user(n, p))
    .join('')}
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;
}

/** Ports this process handed out: the kernel may offer a freed port again before its server binds it. */
const handedOut = new Set<number>();

/** A free loopback port not given to another server of this process. */
export async function uniquePort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function tail(path: string, chars = 4000): string {
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  return text.slice(-chars);
}

/** Start a server, or return undefined (with a notice) when clickhouse-server is not installed outside CI. */
export async function startClickhouseServer(options: ClickhouseServerOptions = {}): Promise<ClickhouseServer | undefined> {
  const binary = requireTool('clickhouse-server');
  if (!binary) return undefined;
  const tmp = tempDir('egressd-clickhouse-');
  const dir = tmp.path;
  const httpPort = options.httpPort ?? (await uniquePort());
  const tcpPort = options.tcpPort ?? (await uniquePort());
  const interserverPort = options.interserverPort ?? (await uniquePort());
  for (const sub of ['log', 'data', 'tmp', 'user_files', 'format_schemas']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'config.xml'), configXml(dir, httpPort, tcpPort, interserverPort, options.extraConfig ?? ''));
  writeFileSync(join(dir, 'users.xml'), usersXml(options.users ?? {}));
  const url = `http://127.0.0.1:${httpPort}`;
  let proc: ReturnType<typeof startProcess> | undefined;

  async function query(sql: string, user = 'default', password = ''): Promise<string> {
    const send = () =>
      fetch(`${url}/`, {
        method: 'POST',
        body: sql,
        headers: { 'X-ClickHouse-User': user, 'X-ClickHouse-Key': password },
      });
    let response: Response;
    try {
      response = await send();
    } catch (err) {
      // a pooled keep-alive socket the server closed meanwhile: once more on a new one
      const code = ((err as Error).cause as { code?: string } | undefined)?.code;
      if (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET') {
        throw new Error(`clickhouse on ${url}: ${(err as Error).message} (${code ?? 'no code'})\n${server.output()}`, { cause: err });
      }
      response = await send();
    }
    const text = await response.text();
    if (!response.ok) throw new Error(`clickhouse: ${text.slice(0, 1000)}`);
    return text;
  }

  const server: ClickhouseServer = {
    url,
    httpPort,
    tcpPort,
    interserverPort,
    dir,
    running: () => proc !== undefined && proc.child.exitCode === null && proc.child.signalCode === null,
    async start() {
      if (server.running()) return;
      proc = startProcess(binary, [`--config-file=${join(dir, 'config.xml')}`], { cwd: dir });
      const started = proc;
      await waitFor(
        async () => {
          if (started.child.exitCode !== null) throw new Error(`clickhouse-server exited: ${started.output()}`);
          const r = await fetch(`${url}/ping`);
          return r.ok;
        },
        60_000,
        `clickhouse-server on ${url}`,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${started.output()}\n${tail(join(dir, 'log', 'error.log'))}`);
      });
    },
    async stop() {
      await stopProcess(proc?.child, 15_000);
      proc = undefined;
    },
    query,
    output: () => `${proc?.output() ?? ''}\n${tail(join(dir, 'log', 'error.log'))}`,
    remove: () => tmp.remove(),
  };
  await server.start();
  return server;
}
