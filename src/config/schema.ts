import { z } from 'zod';
import { telemetrySchema } from '../telemetry/config.js';
import { pipelineSchema } from '../daemon/config.js';
import { journalSchema } from '../sinks/journal/config.js';
import { clickhouseSchema } from '../sinks/clickhouse/config.js';
import { detectSchema } from '../detect/config.js';
import { fileSourceSchema } from '../sources/file/config.js';
import { netflowSourceSchema } from '../sources/netflow/config.js';
import { syslogSourceSchema } from '../sources/syslog/config.js';
import { pcapSourceSchema } from '../sources/pcap/config.js';

// The root of the one YAML file. Every component owns its part; `configSchema.parse({})` works.

export const sourceSchema = z.discriminatedUnion('type', [
  fileSourceSchema,
  netflowSourceSchema,
  syslogSourceSchema,
  pcapSourceSchema,
]);
export type SourceConfig = z.infer<typeof sourceSchema>;

export const configSchema = z
  .object({
    /** Checkpoints, spool, detection snapshot and the journal live here. */
    state_dir: z.string().min(1).default('/var/lib/egressd'),
    /** Holds networks.yaml, approved-sources.yaml and detection.yaml. */
    rules_dir: z.string().min(1).default('/etc/egressd/rules'),
    telemetry: telemetrySchema.prefault({}),
    pipeline: pipelineSchema.prefault({}),
    sources: z.array(sourceSchema).default([]),
    detection: detectSchema.prefault({}),
    journal: journalSchema.prefault({}),
    clickhouse: clickhouseSchema.prefault({}),
  })
  .strict();
export type Config = z.infer<typeof configSchema>;
