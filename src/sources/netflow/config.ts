import { z } from 'zod';
import { listenAddress } from '../../config/common.js';

// Placeholder: the flow collector owns this schema.
export const netflowSourceSchema = z
  .object({
    type: z.literal('netflow'),
    listen: z.array(listenAddress).min(1).default(['0.0.0.0:2055']),
  })
  .strict();
export type NetflowSourceConfig = z.infer<typeof netflowSourceSchema>;
