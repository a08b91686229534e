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

/** Signals of the short and medium windows: they say the activity is still going on now. */
const CURRENT_SIGNAL = /_(1m|1h)$/;

/** One signal of a rule with its name beside it. */
interface NamedSignal {
  name: string;
  rule: SignalRule;
  /** A short- or medium-window signal (see CURRENT_SIGNAL). */
  current: boolean;
}

/** A rule as lists, resolved once: every evaluation walks them, most stopping at the gates. */
interface ResolvedRule {
  ref: string;
  /** `require_groups` with the names that have a signal. */
  gates: NamedSignal[][];
  /** Every signal, in the rule's order (the order of sums and of the stored signals). */
  signals: NamedSignal[];
}

/** Rules are configuration, never changed once loaded: each is resolved on first use. */
const resolvedRules = new WeakMap<RuleShape, ResolvedRule>();

function resolved(rule: RuleShape): ResolvedRule {
  let r = resolvedRules.get(rule);
  if (r) return r;
  const named = (name: string, s: SignalRule): NamedSignal => ({ name, rule: s, current: CURRENT_SIGNAL.test(name) });
  const signals: NamedSignal[] = [];
  for (const name in rule.signals) signals.push(named(name, rule.signals[name]!));
  const gates = rule.require_groups.map((group) => {
    const gate: NamedSignal[] = [];
    for (const name of group) {
      const s = rule.signals[name];
      if (s) gate.push(named(name, s));
    }
    return gate;
  });
  r = { ref: `${rule.id}@${rule.rev}`, gates, signals };
  resolvedRules.set(rule, r);
  return r;
}

/** Score a rule against features; undefined when its gates do not pass. */
export function scoreRule(rule: RuleShape, features: Features): Scored | undefined {
  const r = resolved(rule);
  // Gates first, without allocating: most evaluations stop here.
  for (const gate of r.gates) {
    let passed = false;
    for (const s of gate) {
      if (strength(features[s.name] ?? 0, s.rule) > 0) {
        passed = true;
        break;
      }
    }
    if (!passed) return undefined;
  }
  let total = 0;
  let got = 0;
  let firedCount = 0;
  for (const { name, rule: s } of r.signals) {
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
  for (const { name, rule: s } of r.signals) {
    const value = features[name] ?? 0;
    if (strength(value, s) > 0) fired.push({ name, value: round(value), threshold: s.threshold, weight: s.weight });
  }
  return { rule: r.ref, score, signals: fired };
}

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
  const r = resolved(rule);
  let total = 0;
  let got = 0;
  let current = false;
  const fired: Signal[] = [];
  for (const { name, rule: s, current: isCurrent } of r.signals) {
    if (s.weight <= 0) continue;
    total += s.weight;
    const value = features[name] ?? 0;
    const st = strength(value, s);
    if (st <= 0) continue;
    got += s.weight * st;
    if (isCurrent) current = true;
    fired.push({ name, value: round(value), threshold: s.threshold, weight: s.weight });
  }
  if (!current || total <= 0) return undefined;
  return { rule: r.ref, score: Math.round((100 * got) / total), signals: fired };
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
