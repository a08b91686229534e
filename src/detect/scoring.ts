import type { Severity, Signal } from '../incidents/types.js';
import type { DetectionRules, SignalRule } from './config.js';
import type { Features } from './features.js';

// Explainable scores: each signal fires at its threshold (half its weight) and reaches its full
// weight at `saturate` (log scale between). The score is the weighted share of the rule's
// signals, 0–100. Gates (`require_groups`, `min_fired`, `min_score`) decide whether a finding
// exists at all, so no single signal such as volume can raise one alone unless the rule says so.

export interface RuleShape {
  id: string;
  rev: number;
  min_score: number;
  min_fired: number;
  require_groups: string[][];
  signals: Record<string, SignalRule>;
}

export interface Scored {
  rule: string;
  score: number;
  /** Fired signals only: what the incident stores. */
  signals: Signal[];
}

/** Strength in [0, 1] of one signal for `value`. */
export function strength(value: number, rule: SignalRule): number {
  if (rule.weight <= 0 || !(value >= rule.threshold) || value <= 0) return 0;
  if (rule.saturate <= rule.threshold || value >= rule.saturate) return 1;
  const span = Math.log(rule.saturate / Math.max(rule.threshold, 1e-9));
  const part = Math.log(value / Math.max(rule.threshold, 1e-9)) / span;
  return 0.5 + 0.5 * Math.min(1, Math.max(0, part));
}

/** Score a rule against features; undefined when its gates do not pass. */
export function scoreRule(rule: RuleShape, features: Features): Scored | undefined {
  // Gates first, without allocating: most evaluations stop here.
  for (const group of rule.require_groups) {
    let passed = false;
    for (const name of group) {
      const s = rule.signals[name];
      if (s && strength(features[name] ?? 0, s) > 0) {
        passed = true;
        break;
      }
    }
    if (!passed) return undefined;
  }
  let total = 0;
  let got = 0;
  let firedCount = 0;
  for (const name in rule.signals) {
    const s = rule.signals[name]!;
    if (s.weight <= 0) continue;
    total += s.weight;
    const st = strength(features[name] ?? 0, s);
    if (st > 0) {
      got += s.weight * st;
      firedCount++;
    }
  }
  if (total <= 0 || firedCount < rule.min_fired) return undefined;
  const score = Math.round((100 * got) / total);
  if (score < rule.min_score) return undefined;
  const fired: Signal[] = [];
  for (const name in rule.signals) {
    const s = rule.signals[name]!;
    const value = features[name] ?? 0;
    if (strength(value, s) > 0) fired.push({ name, value: round(value), threshold: s.threshold, weight: s.weight });
  }
  return { rule: `${rule.id}@${rule.rev}`, score, signals: fired };
}

/** Signals of the short and medium windows: they say the activity is still going on now. */
const CURRENT_SIGNAL = /_(1m|1h)$/;

/** Did any short- or medium-window signal fire: is the activity going on now? */
export function hasCurrentSignal(scored: Scored): boolean {
  return scored.signals.some((s) => CURRENT_SIGNAL.test(s.name));
}

/**
 * Hysteresis for an incident already open: it stays alive while any short- or medium-window
 * signal of its rule still fires (gates apply only to opening). Long-window signals do not count,
 * or an incident would outlive its activity by a whole long window.
 */
export function sustainRule(rule: RuleShape, features: Features): Scored | undefined {
  let total = 0;
  let got = 0;
  let current = false;
  const fired: Signal[] = [];
  for (const name in rule.signals) {
    const s = rule.signals[name]!;
    if (s.weight <= 0) continue;
    total += s.weight;
    const value = features[name] ?? 0;
    const st = strength(value, s);
    if (st <= 0) continue;
    got += s.weight * st;
    if (CURRENT_SIGNAL.test(name)) current = true;
    fired.push({ name, value: round(value), threshold: s.threshold, weight: s.weight });
  }
  if (!current || total <= 0) return undefined;
  return { rule: `${rule.id}@${rule.rev}`, score: Math.round((100 * got) / total), signals: fired };
}

export function severityFor(score: number, bands: DetectionRules['severity']): Severity {
  if (score >= bands.critical) return 'critical';
  if (score >= bands.high) return 'high';
  if (score >= bands.medium) return 'medium';
  return 'low';
}

function round(v: number): number {
  return Number.isInteger(v) ? v : Math.round(v * 1000) / 1000;
}
