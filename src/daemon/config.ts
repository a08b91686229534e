import { z } from 'zod';
import { duration } from '../config/common.js';

export const pipelineSchema = z
  .object({
    /** Batches waiting between sources and detection before sources are made to wait. */
    queue_batches: z.number().int().positive().default(64),
    /** Time SIGTERM allows for draining queues, flushing sinks and closing the journal. */
    shutdown_grace: duration.prefault('30s'),
    /** How often detection state is snapshotted to the state directory. */
    snapshot_interval: duration.prefault('60s'),
  })
  .strict();
export type PipelineConfig = z.infer<typeof pipelineSchema>;
