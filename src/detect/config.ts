import { z } from 'zod';
import { byteSize, duration } from '../config/common.js';

// Engine options (config.yaml `detection:`) and the schema of rules/detection.yaml.
// Both parse `{}` into full defaults; every threshold, weight and window of the rules lives in
// rules/detection.yaml, never in code.

export const detectSchema = z
  .object({
    windows: z
      .object({
        /** Evaluated as soon as it closes: the detection latency of a burst. */
        short: duration.prefault('1m'),
        medium: duration.prefault('1h'),
        /** Must be a whole number of medium windows (at most 168). */
        long: duration.prefault('24h'),
      })
      .strict()
      .prefault({})
      .superRefine((w, ctx) => {
        if (w.short <= 0 || w.medium % w.short !== 0 || w.medium < w.short)
          ctx.addIssue({ code: 'custom', path: ['medium'], message: 'medium must be a whole multiple of short' });
        const slots = w.long / w.medium;
        if (!Number.isInteger(slots) || slots < 2 || slots > 168)
          ctx.addIssue({ code: 'custom', path: ['long'], message: 'long must be 2 to 168 medium windows' });
      }),
    /** Hosts beyond this are evicted, least recently active first. */
    max_hosts: z.number().int().positive().default(200_000),
    /** A host with no egress for this long is forgotten. */
    host_idle_ttl: duration.prefault('25h'),
    /** Per host and medium window: remotes tracked by bytes (top remotes, heavy peers). */
    max_remotes_per_host: z.number().int().positive().default(512),
    /** Object keys (proxy URLs) remembered to spot the same object fetched by several hosts. */
    max_object_keys: z.number().int().positive().default(200_000),
    /** Info hashes and sources remembered for swarm correlation. */
    max_swarm_keys: z.number().int().positive().default(100_000),
    /** HyperLogLog precision (registers = 2^p): 12 → about 1.6 % standard error, 4 KiB per busy sketch. */
    hll_precision: z.number().int().min(8).max(16).default(12),
    snapshot: z
      .object({
        /** Write `<state_dir>/detect/snapshot.json` on save(); off keeps state in memory only. */
        enabled: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type DetectConfig = z.infer<typeof detectSchema>;

/** A plain number, or a byte size such as `100MiB` for byte signals. */
const amount = z.union([z.number().nonnegative(), z.string().regex(/^\s*\d/, 'expected a number or a size such as 100MiB')]).pipe(
  z.union([z.number(), byteSize]),
);

const signalSchema = z
  .object({
    /** The signal fires at this value (contributes half its weight). */
    threshold: amount,
    /** At this value it contributes its full weight (log scale between). */
    saturate: amount,
    /** Share of the rule score; 0 switches the signal off. */
    weight: z.number().min(0).max(10),
  })
  .strict()
  .refine((s) => s.saturate >= s.threshold, { message: 'saturate must be at least threshold' });
export type SignalRule = z.infer<typeof signalSchema>;

function signal(threshold: number, saturate: number, weight: number) {
  return signalSchema.prefault({ threshold, saturate, weight });
}

const gating = {
  /** Score below this: no finding. */
  min_score: z.number().min(0).max(100),
  /** Least number of fired signals. */
  min_fired: z.number().int().min(1),
  /** Each group needs at least one fired signal (e.g. a volume signal AND a pattern signal). */
  require_groups: z.array(z.array(z.string()).min(1)),
};

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const bittorrentRule = z
  .object({
    id: z.string().min(1).default('bt.protocol'),
    rev: z.number().int().positive().default(1),
    min_score: gating.min_score.default(20),
    min_fired: gating.min_fired.default(1),
    require_groups: gating.require_groups.default([['bt_evidence']]),
    signals: z
      .object({
        /** Records with BitTorrent protocol evidence (handshake, DHT, uTP, tracker, magnet, .torrent) in the long window. */
        bt_evidence: signal(1, 20, 0.55),
        /** Distinct unapproved info hashes seen from the host in the long window. */
        info_hashes: signal(1, 10, 0.1),
        /** Distinct peers on the weak BitTorrent ports (6881-6889, 7680); never enough alone. */
        bt_port_peers_1h: signal(3, 100, 0.05),
        /** Distinct unapproved peers in the medium window. */
        peers_1h: signal(20, 1000, 0.15),
        /** Unapproved bytes downloaded in the medium window. */
        bytes_in_1h: signal(100 * MIB, 20 * GIB, 0.15),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const p2pRule = z
  .object({
    id: z.string().min(1).default('bt.p2p-flows'),
    rev: z.number().int().positive().default(1),
    min_score: gating.min_score.default(20),
    min_fired: gating.min_fired.default(2),
    require_groups: gating.require_groups.default([['p2p_peers_1h'], ['p2p_ports_1h']]),
    signals: z
      .object({
        /** Distinct unapproved peers on unprivileged, non-service ports (flow sources without DPI). */
        p2p_peers_1h: signal(20, 2000, 0.35),
        /** Distinct remote ports among them: peers listen on random ports, services do not. */
        p2p_ports_1h: signal(12, 1000, 0.35),
        bt_port_peers_1h: signal(3, 100, 0.1),
        bytes_in_1h: signal(100 * MIB, 20 * GIB, 0.2),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const bulkRule = z
  .object({
    id: z.string().min(1).default('bulk.acquisition'),
    rev: z.number().int().positive().default(2),
    min_score: gating.min_score.default(5),
    min_fired: gating.min_fired.default(2),
    require_groups: gating.require_groups.default([
      [
        'bytes_in_1m',
        'bytes_in_1h',
        'bytes_in_24h',
        'sustained_hours_24h',
        'peers_1h',
        'peers_24h',
        'heavy_peers_1h',
        'objects_1h',
        'objects_24h',
        'large_objects_1h',
      ],
      [
        'peers_1m',
        'duty_24h',
        'regularity_1h',
        'active_minutes_1h',
        'sustained_minutes_1h',
        'large_transfers_1h',
        'objects_1m',
        'sequential_1h',
        'shared_objects_24h',
      ],
    ]),
    signals: z
      .object({
        /** Unapproved bytes downloaded per short window (long flows count at their rate). */
        bytes_in_1m: signal(100 * MIB, 4 * GIB, 0.1),
        bytes_in_1h: signal(4 * GIB, 100 * GIB, 0.15),
        bytes_in_24h: signal(20 * GIB, 1024 * GIB, 0.1),
        /** Short windows of the medium window with at least `features.sustained_min_bytes` downloaded. */
        sustained_minutes_1h: signal(45, 60, 0.1),
        /** Medium windows of the long window that were sustained downloads (`features.sustained_hour_minutes`). */
        sustained_hours_24h: signal(3, 24, 0.1),
        /** Distinct unapproved remotes in the short window. */
        peers_1m: signal(100, 5000, 0.1),
        peers_1h: signal(150, 10_000, 0.05),
        /** Flows that each downloaded at least `features.large_transfer_bytes`: a person fetches a few, a pipeline dozens. */
        large_transfers_1h: signal(12, 1000, 0.1),
        /** Remotes that each delivered at least `features.heavy_peer_bytes` in the medium window. */
        heavy_peers_1h: signal(50, 2000, 0.15),
        peers_24h: signal(1000, 100_000, 0.05),
        /** Hours of the long window with significant unapproved activity. */
        duty_24h: signal(16, 24, 0.1),
        /** Short windows of the medium window with unapproved downloads. */
        active_minutes_1h: signal(55, 60, 0.05),
        /** 1 − coefficient of variation of inter-arrival times: 1 = clockwork, 0 = human bursts. */
        regularity_1h: signal(0.5, 0.9, 0.1),
        /** Distinct proxy objects (URLs) fetched. */
        objects_1m: signal(200, 5000, 0.05),
        objects_1h: signal(1000, 50_000, 0.1),
        objects_24h: signal(10_000, 500_000, 0.1),
        /** Media, archive and disk-image objects of at least `features.large_object_bytes`. */
        large_objects_1h: signal(30, 5000, 0.1),
        /** Objects whose name continues a numbered sequence (file-0041, file-0042...). */
        sequential_1h: signal(6, 2000, 0.05),
        /** Objects this host fetched that other hosts fetched too (unapproved). */
        shared_objects_24h: signal(10, 1000, 0.05),
        /** Medium-window bytes over the host's own EWMA baseline (after warm-up). */
        volume_vs_baseline: signal(20, 1000, 0.05),
        /** Robust z-score of medium-window bytes against the population (median/MAD). */
        volume_z: signal(10, 1000, 0.05),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const swarmRule = z
  .object({
    id: z.string().min(1).default('swarm.correlation'),
    rev: z.number().int().positive().default(2),
    min_score: gating.min_score.default(20),
    /** Hosts needed for a swarm. */
    min_hosts: z.number().int().min(2).default(2),
    /** Shared source: a host counts when it pulled at least this much from the source... */
    min_bytes_per_host: byteSize.prefault('100MiB'),
    /** ...or fetched at least this many of the same objects as other hosts... */
    min_shared_objects: z.number().int().positive().default(5),
    /** Flow-only BitTorrent hosts (no info hash) are linked into one swarm when a pair shares this many distinct remote peers. */
    min_shared_peers: z.number().int().positive().default(3),
    /** ...and a shared-source member must also have a bulk_acquisition incident of its own (false: volume alone). */
    source_requires_incident: z.boolean().default(true),
    signals: z
      .object({
        hosts: signal(2, 50, 0.6),
        bytes_in: signal(GIB, 1024 * GIB, 0.2),
        shared_keys: signal(1, 100, 0.2),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const detectionRulesSchema = z
  .object({
    /** Score bands: at or above each value the incident has that severity (below medium: low). */
    severity: z
      .object({
        medium: z.number().min(0).max(100).default(40),
        high: z.number().min(0).max(100).default(65),
        critical: z.number().min(0).max(100).default(85),
      })
      .strict()
      .prefault({}),
    lifecycle: z
      .object({
        /** Resolved after this much event time without the activity that raised it. */
        quiet_period: duration.prefault('4h'),
        /** Emit an update when bytes grew by this factor since the last emitted version... */
        update_growth: z.number().positive().default(0.5),
        /** ...or the score moved by this much, or this much event time passed with new activity. */
        update_score_delta: z.number().positive().default(5),
        update_interval: duration.prefault('1h'),
        /** Top remotes kept in evidence. */
        top_remotes: z.number().int().positive().default(10),
      })
      .strict()
      .prefault({}),
    approvals: z
      .object({
        /** BitTorrent approved by info_hash/tracker: `suppress` (no incident) or `downgrade` (severity low, approved_source named). */
        bittorrent: z.enum(['suppress', 'downgrade']).default('suppress'),
      })
      .strict()
      .prefault({}),
    features: z
      .object({
        heavy_peer_bytes: byteSize.prefault('1MiB'),
        large_object_bytes: byteSize.prefault('1MiB'),
        large_transfer_bytes: byteSize.prefault('32MiB'),
        /** An hour counts toward the duty cycle with this many unapproved bytes or downloads. */
        duty_min_bytes: byteSize.prefault('1MiB'),
        duty_min_downloads: z.number().int().positive().default(30),
        /** A short window counts as sustained download with this many unapproved bytes (flows spread over their span). */
        sustained_min_bytes: byteSize.prefault('512KiB'),
        /** A medium window with this many sustained short windows counts toward `sustained_hours_24h`. */
        sustained_hour_minutes: z.number().int().positive().default(45),
        /** Inter-arrival samples needed before regularity means anything. */
        regularity_min_samples: z.number().int().min(3).default(30),
        /** Medium windows of history before the per-host baseline is trusted. */
        baseline_warmup: z.number().int().min(1).default(24),
        /** EWMA smoothing of the per-host baseline per medium window. */
        baseline_alpha: z.number().gt(0).lt(1).default(0.1),
        /** Baseline floor so a quiet host does not alert on small volumes. */
        baseline_floor_bytes: byteSize.prefault('50MiB'),
        /** Hosts needed for population statistics. */
        population_min_hosts: z.number().int().min(3).default(20),
        /** Weak BitTorrent ports: evidence only with other signals. */
        bt_weak_ports: z.array(z.number().int().min(0).max(65535)).default([6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889, 7680]),
        /** Remote ports of ordinary services, never counted as peer-to-peer. */
        service_ports: z
          .array(z.number().int().min(0).max(65535))
          .default([1935, 3478, 3479, 3480, 3481, 5222, 5223, 8080, 8443, 8801, 8802, 8803, 8804, 8805, 8806, 8807, 8808, 8809, 8810, 19302, 19303, 19304, 19305, 19306, 19307, 19308, 19309]),
      })
      .strict()
      .prefault({}),
    rules: z
      .object({
        bittorrent: bittorrentRule.prefault({}),
        p2p_flows: p2pRule.prefault({}),
        bulk_acquisition: bulkRule.prefault({}),
        swarm: swarmRule.prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((rules, ctx) => {
    const s = rules.severity;
    if (!(s.medium <= s.high && s.high <= s.critical))
      ctx.addIssue({ code: 'custom', path: ['severity'], message: 'expected medium ≤ high ≤ critical' });
    for (const [name, rule] of Object.entries(rules.rules)) {
      if (!('require_groups' in rule)) continue;
      const known = new Set(Object.keys(rule.signals));
      rule.require_groups.forEach((group, gi) =>
        group.forEach((sig, si) => {
          if (!known.has(sig))
            ctx.addIssue({ code: 'custom', path: ['rules', name, 'require_groups', gi, si], message: `unknown signal ${sig}; known: ${[...known].join(', ')}` });
        }),
      );
    }
  });
export type DetectionRules = z.infer<typeof detectionRulesSchema>;
export type HostRuleName = 'bittorrent' | 'p2p_flows' | 'bulk_acquisition';
