import type { Logger } from '../telemetry/logger.js';
import type { Registry } from 'prom-client';
import type { DetectConfig, DetectionRules } from './config.js';
import type { DetectionEngine } from './types.js';

export interface DetectionDeps {
  config: DetectConfig;
  rules: DetectionRules;
  logger: Logger;
  registry: Registry;
  /** Where the state snapshot lives; undefined keeps state in memory only. */
  stateDir?: string;
}

export function createDetectionEngine(_deps: DetectionDeps): DetectionEngine {
  throw new Error('detection: not implemented yet');
}
