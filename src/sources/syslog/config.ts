import { z } from 'zod';
import { byteSize, listenAddress } from '../../config/common.js';
import { squidFormatSchema } from '../../decode/squid/config.js';

/**
 * Syslog receiver (UDP and TCP; RFC 3164 and 5424; octet-counted or newline framing) for
 * proxies that ship their access log that way. The message text goes to the format's decoder.
 */
export const syslogSourceSchema = z
  .object({
    type: z.literal('syslog'),
    /** UDP listener, e.g. `0.0.0.0:514`. At least one of `udp` and `tcp` is needed. */
    udp: listenAddress.optional(),
    /** TCP listener, e.g. `0.0.0.0:601`. */
    tcp: listenAddress.optional(),
    /** Sensor id carried in records' `source.id`; defaults to `syslog:<listen address>`. */
    id: z.string().min(1).optional(),
    format: z.literal('squid').default('squid'),
    squid: squidFormatSchema.prefault({}),
    /** Larger messages are dropped and counted (`too_large`). */
    max_message_size: byteSize.prefault('64KiB'),
    /** Further TCP connections are refused and counted (`max_connections`). */
    max_connections: z.number().int().positive().default(256),
    /** Messages waiting to be decoded and pushed: beyond it UDP drops (counted), TCP pauses reading. */
    queue_limit: z.number().int().positive().default(10_000),
    /** The same bound in bytes, so large messages cannot fill memory under the message count. */
    queue_bytes: byteSize.prefault('16MiB'),
    /** Records handed downstream per push. */
    batch_size: z.number().int().positive().default(512),
  })
  .strict();
export type SyslogSourceConfig = z.infer<typeof syslogSourceSchema>;
