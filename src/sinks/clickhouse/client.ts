import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { resolveSecret } from '../../config/common.js';
import { EgressdError } from '../../errors.js';
import type { ClickhouseConfig } from './config.js';
import type { SchemaTarget } from './schema.js';
import type { Inserter } from './writer.js';

// Connection from config. Works with ClickHouse 18.16: no query parameters, no settings that
// old servers reject; the database is named in every statement, so the connection itself uses
// `default` and `schema apply` can create the database first.

/** What the schema and retention code needs from a server: statements and small JSON results. */
export interface SqlRunner {
  command(sql: string): Promise<void>;
  /** Run a query ending in `FORMAT JSONEachRow`, return its rows. */
  rows<T>(sql: string): Promise<T[]>;
  /** Insert a JSONEachRow body. */
  insert(table: string, body: string): Promise<void>;
}

export function schemaTarget(config: ClickhouseConfig): SchemaTarget {
  return {
    database: config.database,
    cluster: config.cluster.name,
    zookeeperPath: config.cluster.zookeeper_path,
    replica: config.cluster.replica,
  };
}

function readConfigFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new EgressdError('CONFIG_INVALID', `clickhouse.${what}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function connect(config: ClickhouseConfig): ClickHouseClient {
  if (!config.url) throw new EgressdError('CONFIG_INVALID', 'clickhouse.url is not set');
  const password = resolveSecret(config.password, config.password_file || undefined, (p) => readConfigFile(p, 'password_file').toString('utf8')) ?? '';
  const tls = config.tls.ca_file
    ? config.tls.cert_file
      ? {
          ca_cert: readConfigFile(config.tls.ca_file, 'tls.ca_file'),
          cert: readConfigFile(config.tls.cert_file, 'tls.cert_file'),
          key: readConfigFile(config.tls.key_file, 'tls.key_file'),
        }
      : { ca_cert: readConfigFile(config.tls.ca_file, 'tls.ca_file') }
    : undefined;
  return createClient({
    url: config.url,
    username: config.user,
    password,
    database: 'default',
    request_timeout: config.request_timeout,
    compression: { request: config.compression.request, response: config.compression.response },
    // 18.16 closes idle keep-alive sockets after 3 s
    keep_alive: { enabled: true, idle_socket_ttl: 2000 },
    max_open_connections: 8,
    log: { level: ClickHouseLogLevel.OFF },
    ...(tls ? { tls } : {}),
  });
}

export class ClientRunner implements SqlRunner, Inserter {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    /** Cluster mode: an insert into a Distributed table is acknowledged once the shards have it. */
    private readonly clustered = false,
  ) {}

  async command(sql: string): Promise<void> {
    await this.client.command({ query: sql });
  }

  async rows<T>(sql: string): Promise<T[]> {
    const result = await this.client.exec({ query: sql });
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream as AsyncIterable<Buffer>) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as T);
  }

  async insert(table: string, body: string): Promise<void> {
    const result = await this.client.exec({
      query: `INSERT INTO ${this.database}.${table} FORMAT JSONEachRow`,
      values: Readable.from([body]),
      ...(this.clustered ? { clickhouse_settings: { insert_distributed_sync: 1 } } : {}),
    });
    // drain the (empty) response so the socket goes back to the pool
    for await (const chunk of result.stream as AsyncIterable<Buffer>) void chunk;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
