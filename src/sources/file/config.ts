import { z } from 'zod';
import { duration } from '../../config/common.js';
import { squidFormatSchema } from '../../decode/squid/config.js';

/** Tailed log files: Zeek conn.log, VPC flow logs, Squid access.log. */
export const fileSourceSchema = z
  .object({
    type: z.literal('file'),
    format: z.enum(['zeek', 'vpc', 'squid']),
    /** Files to tail; each keeps its own checkpoint in the state directory. */
    paths: z.array(z.string().min(1)).min(1),
    /** Sensor id carried in records' `source.id`; defaults to the file path. */
    id: z.string().optional(),
    /** Where a file never seen before is read from. */
    start_at: z.enum(['beginning', 'end']).default('beginning'),
    poll_interval: duration.prefault('1s'),
    squid: squidFormatSchema.prefault({}),
  })
  .strict();
export type FileSourceConfig = z.infer<typeof fileSourceSchema>;
