import { z } from 'zod';

// Placeholder: the packet source owns this schema.
export const pcapSourceSchema = z
  .object({
    type: z.literal('pcap'),
    /** A capture file, or `-` for standard input (`tcpdump -w - | egressd run --pcap-stdin`). */
    path: z.string().default('-'),
  })
  .strict();
export type PcapSourceConfig = z.infer<typeof pcapSourceSchema>;
