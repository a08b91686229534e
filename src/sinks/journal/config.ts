import { z } from 'zod';
import { byteSize, duration } from '../../config/common.js';

// Group commit: a write is acknowledged only once fsync'd. When no fsync is running, a commit
// starts after `fsync_interval` (0: at once) or as soon as `fsync_batch` entries wait; entries
// that arrive while an fsync runs all share the next one.
export const journalSchema = z
  .object({
    /**
     * Longest an entry waits for company before its fsync starts. 0 (the default) commits as
     * soon as the disk is idle: lowest latency, and bursts still share fsyncs. Raise it to trade
     * acknowledgement latency for fewer fsyncs on slow disks.
     */
    fsync_interval: duration.prefault('0ms'),
    /** A commit starts at once when this many entries are waiting, whatever `fsync_interval` says. */
    fsync_batch: z.number().int().positive().default(256),
    /** A journal file is closed and a new one started past this size; the chain continues. */
    rotate_size: byteSize.prefault('64MiB'),
  })
  .strict();
export type JournalConfig = z.infer<typeof journalSchema>;
