import { z } from 'zod';

// Placeholder: the ClickHouse sink owns this schema. Disabled unless `url` is set.
export const clickhouseSchema = z
  .object({
    url: z.string().default(''),
    database: z.string().default('egressd'),
  })
  .strict();
export type ClickhouseConfig = z.infer<typeof clickhouseSchema>;
