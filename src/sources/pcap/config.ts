import { z } from 'zod';
import { byteSize, duration } from '../../config/common.js';

/** The packet source: a capture file or standard input, assembled into flows. */
export const pcapSourceSchema = z
  .object({
    type: z.literal('pcap'),
    /** A capture file, or `-` for standard input (`tcpdump -w - | egressd run --pcap-stdin`). */
    path: z.string().min(1).default('-'),
    /** Sensor name for records' `source.id`; defaults to the file name (`stdin` for `-`). */
    id: z.string().min(1).optional(),
    /** A flow with no packet for this long ends. */
    idleTimeout: duration.prefault('60s'),
    /** A flow running this long emits a partial record and goes on. */
    activeTimeout: duration.prefault('5m'),
    /** A TCP flow closed by FIN/RST stays this long to absorb the last ACKs. */
    closeLinger: duration.prefault('2s'),
    /**
     * Flows tracked at once; beyond this the oldest is ended early (counted as evicted). 128 bytes
     * each in the packet core, whose WebAssembly memory ends at 4 GiB: at most 20 million.
     */
    maxFlows: z.number().int().positive().max(20_000_000).default(100_000),
    /** Payload packets per flow looked at for protocol identification. */
    maxInspectPackets: z.number().int().min(1).max(256).default(16),
    /** Memory for the first bytes of streams still being identified, across all flows. */
    maxInspectBytes: byteSize.prefault('32MiB'),
    /** BitTorrent peer endpoints remembered to attribute the rest of a swarm's flows. */
    knownPeers: z
      .object({
        max: z.number().int().nonnegative().default(65_536),
        ttl: duration.prefault('1h'),
      })
      .strict()
      .prefault({}),
    /** DNS answers remembered (IP → name) to name later flows. */
    dnsCache: z
      .object({
        max: z.number().int().nonnegative().default(65_536),
        ttl: duration.prefault('1h'),
      })
      .strict()
      .prefault({}),
    /** Records handed to the pipeline per batch. */
    batchSize: z.number().int().positive().default(256),
  })
  .strict();
export type PcapSourceConfig = z.infer<typeof pcapSourceSchema>;
