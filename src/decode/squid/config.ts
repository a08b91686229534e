import { z } from 'zod';
import { byteSize } from '../../config/common.js';
import { compileLogformat } from './logformat.js';

/** How Squid lines are laid out; shared by the file and syslog sources. */
export const squidFormatSchema = z
  .object({
    /**
     * `squid` (native), `common`, `combined`, `referrer`, `useragent`, or a custom logformat
     * string of % codes as in squid.conf (`%ts.%03tu %6tr %>a ...`).
     */
    logformat: z
      .string()
      .default('squid')
      .superRefine((format, ctx) => {
        try {
          compileLogformat(format);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
    /** Longer lines are rejected (`line_too_long`): Squid's own URL limit is 8 KiB. */
    max_line_length: byteSize.prefault('64KiB'),
  })
  .strict();
/** As written in config (defaults optional); the decoder parses it. */
export type SquidFormatConfig = z.input<typeof squidFormatSchema>;
export type SquidFormat = z.output<typeof squidFormatSchema>;
