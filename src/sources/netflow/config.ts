import { z } from 'zod';
import { byteSize, duration, listenAddress } from '../../config/common.js';

/** NetFlow v5/v9 and IPFIX collector: UDP listeners, template cache bounds, batching. */
export const netflowSourceSchema = z
  .object({
    type: z.literal('netflow'),
    /** UDP addresses to listen on, IPv4 or `[v6]:port`; one socket each. */
    listen: z.array(listenAddress).min(1).default(['0.0.0.0:2055']),
    /** Identity of this collector in metric labels (records carry the exporter address). */
    id: z.string().min(1).default('netflow'),
    /** SO_RCVBUF per socket; the kernel caps it at net.core.rmem_max. */
    receive_buffer: byteSize.prefault('32MiB'),
    /** A template not refreshed by its exporter for this long is dropped. */
    template_timeout: duration.prefault('30m'),
    max_templates: z.number().int().positive().default(4096),
    /** Exporters tracked (and labelled in the last-seen metric); least recently seen go first. */
    max_exporters: z.number().int().positive().default(256),
    /** How long data may wait for the template that describes it. */
    waiting_timeout: duration.prefault('10s'),
    max_waiting_sets: z.number().int().nonnegative().default(512),
    max_waiting_bytes: byteSize.prefault('4MiB'),
    /** Records handed to the pipeline at once, and the longest a partial batch waits. */
    batch_size: z.number().int().positive().default(1024),
    flush_interval: duration.prefault('200ms'),
    /** Batches queued behind a slow pipeline before records are dropped (UDP cannot wait). */
    max_queued_batches: z.number().int().positive().default(64),
  })
  .strict();
export type NetflowSourceConfig = z.infer<typeof netflowSourceSchema>;
