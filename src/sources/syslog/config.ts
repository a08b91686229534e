import { z } from 'zod';
import { listenAddress } from '../../config/common.js';

// Placeholder: the syslog receiver owns this schema.
export const syslogSourceSchema = z
  .object({
    type: z.literal('syslog'),
    udp: listenAddress.optional(),
    tcp: listenAddress.optional(),
  })
  .strict();
export type SyslogSourceConfig = z.infer<typeof syslogSourceSchema>;
