import { z } from 'zod';
import { listenAddress } from '../config/common.js';

export const telemetrySchema = z
  .object({
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `/metrics`, `/healthz`, `/readyz`. Loopback by default; empty string disables. */
    listen: z.union([listenAddress, z.literal('')]).default('127.0.0.1:9187'),
  })
  .strict();
export type TelemetryConfig = z.infer<typeof telemetrySchema>;
