import { z } from 'zod';

// Placeholder: the Squid decoder owns this schema.
export const squidFormatSchema = z
  .object({
    /** `squid` (native), `common`, `combined`, or a custom logformat string of % codes. */
    logformat: z.string().default('squid'),
  })
  .strict();
export type SquidFormatConfig = z.infer<typeof squidFormatSchema>;
