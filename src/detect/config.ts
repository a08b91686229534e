import { z } from 'zod';

// Placeholder: the detection engine owns this schema (windows, state bounds).
export const detectSchema = z.object({}).strict();
export type DetectConfig = z.infer<typeof detectSchema>;

/** Schema of rules/detection.yaml. */
export const detectionRulesSchema = z.object({}).passthrough();
export type DetectionRules = z.infer<typeof detectionRulesSchema>;
