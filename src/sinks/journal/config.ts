import { z } from 'zod';
import { byteSize, duration } from '../../config/common.js';

export const journalSchema = z
  .object({
    /** Entries are fsync'd at least this often... */
    fsync_interval: duration.prefault('1s'),
    /** ...or once this many entries are waiting, whichever comes first. */
    fsync_batch: z.number().int().positive().default(256),
    /** A journal file is closed and a new one started past this size; the chain continues. */
    rotate_size: byteSize.prefault('64MiB'),
  })
  .strict();
export type JournalConfig = z.infer<typeof journalSchema>;
