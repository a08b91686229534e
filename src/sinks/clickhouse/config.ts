import { z } from 'zod';
import { byteSize, duration } from '../../config/common.js';

// The ClickHouse sink: disabled unless `url` is set. EGRESSD_CLICKHOUSE_URL/_DATABASE/_USER/
// _PASSWORD override url/database/user/password in every command (config/load.ts).

/** Database, cluster and table names end up in DDL as identifiers: letters, digits, underscore. */
const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { message: 'expected an identifier: letters, digits and _ (not starting with a digit)' });

/** Days to keep a table's day partitions; 0 keeps them forever. */
const days = z.number().int().nonnegative();

export const clickhouseSchema = z
  .object({
    /** `http://host:8123` or `https://host:8443`; empty disables the sink. */
    url: z.string().default(''),
    database: identifier.default('egressd'),
    user: z.string().default('default'),
    /** Inline, or `env:NAME` to read an environment variable. */
    password: z.string().default(''),
    /** Read the password from this file (takes precedence over `password`). */
    password_file: z.string().default(''),
    tls: z
      .object({
        /** CA bundle that signed the server certificate. */
        ca_file: z.string().default(''),
        /** Client certificate and key for mutual TLS (both or neither). */
        cert_file: z.string().default(''),
        key_file: z.string().default(''),
      })
      .strict()
      .refine((t) => (t.cert_file === '') === (t.key_file === ''), { message: 'cert_file and key_file go together' })
      .prefault({}),
    /** Per-request timeout (insert or query). */
    request_timeout: duration.prefault('30s'),
    compression: z
      .object({
        /** gzip insert bodies. */
        request: z.boolean().default(false),
        /** Ask the server to gzip responses. */
        response: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** Run `schema apply` when the daemon starts. */
    apply_schema_on_start: z.boolean().default(true),
    /** Name of this gateway in shared tables; empty means the host name. */
    gateway: z.string().default(''),
    cluster: z
      .object({
        /** A cluster from the servers' `remote_servers`; empty means a single server. */
        name: z.union([z.literal(''), identifier]).default(''),
        /** ZooKeeper path prefix for replicated tables; `{shard}` is a server macro. */
        zookeeper_path: z.string().regex(/^\/[^']*$/, { message: 'expected an absolute path without quotes' }).default('/clickhouse/tables/{shard}'),
        /** Replica name; `{replica}` is a server macro. */
        replica: z.string().regex(/^[^']+$/, { message: 'expected a name without quotes' }).default('{replica}'),
      })
      .strict()
      .prefault({}),
    batch: z
      .object({
        /** A batch is sent once it holds this many rows... */
        max_rows: z.number().int().positive().default(10_000),
        /** ...or this many bytes of JSON... */
        max_bytes: byteSize.prefault('4MiB'),
        /** ...or its oldest row is this old. */
        max_age: duration.prefault('1s'),
        /** Cut batches waiting in memory per table; beyond this they go to the spool. */
        max_pending: z.number().int().positive().default(4),
      })
      .strict()
      .prefault({}),
    flows: z
      .object({
        /** Per-minute aggregates are handed to the writer this often (and on flush). */
        flush_interval: duration.prefault('10s'),
        /** Distinct (minute, host, remote) keys held in memory before an early flush. */
        max_keys: z.number().int().positive().default(200_000),
      })
      .strict()
      .prefault({}),
    spool: z
      .object({
        /** Disk spool bound under <state_dir>/clickhouse-spool; the oldest batches are dropped past it. */
        max_bytes: byteSize.prefault('1GiB'),
        /** Replay retry backoff while ClickHouse is unreachable. */
        retry_min: duration.prefault('1s'),
        retry_max: duration.prefault('30s'),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        incidents: days.default(365),
        incident_changes: days.default(365),
        flows_1m: days.default(30),
        triage_events: days.default(730),
        heartbeats: days.default(30),
        /** How often old day partitions are looked for and dropped. */
        check_interval: duration.prefault('1h'),
      })
      .strict()
      .prefault({}),
    /** A heartbeat row per gateway this often; 0 disables. */
    heartbeat_interval: duration.prefault('60s'),
  })
  .strict();
export type ClickhouseConfig = z.infer<typeof clickhouseSchema>;
