import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { approvedSourcesSchema, networksSchema, type ApprovedSourcesRules, type NetworksRules } from '../enrich/rules.js';
import { detectionRulesSchema, type DetectionRules } from '../detect/config.js';
import { parseWith, readYamlFile } from './load.js';

export const RULE_FILES = {
  networks: 'networks.yaml',
  approved: 'approved-sources.yaml',
  detection: 'detection.yaml',
} as const;

export interface Rules {
  networks: NetworksRules;
  approved: ApprovedSourcesRules;
  detection: DetectionRules;
  /** SHA-256 of each file as read (`absent` when the file does not exist and defaults apply). */
  digests: Record<keyof typeof RULE_FILES, string>;
}

function loadOne<T>(dir: string, file: string, schema: Parameters<typeof parseWith>[0]): { value: T; digest: string } {
  const path = join(dir, file);
  if (!existsSync(path)) return { value: parseWith(schema, {}, path, 'RULES_INVALID') as T, digest: 'absent' };
  const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
  return { value: parseWith(schema, readYamlFile(path, 'RULES_INVALID'), path, 'RULES_INVALID') as T, digest };
}

/** Load and validate the three rules files of a rules directory. */
export function loadRules(dir: string): Rules {
  const networks = loadOne<NetworksRules>(dir, RULE_FILES.networks, networksSchema);
  const approved = loadOne<ApprovedSourcesRules>(dir, RULE_FILES.approved, approvedSourcesSchema);
  const detection = loadOne<DetectionRules>(dir, RULE_FILES.detection, detectionRulesSchema);
  return {
    networks: networks.value,
    approved: approved.value,
    detection: detection.value,
    digests: { networks: networks.digest, approved: approved.digest, detection: detection.digest },
  };
}
