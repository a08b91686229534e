import { describe, expect, it } from 'vitest';
import { detectionRulesSchema } from './config.js';
import { scoreRule, severityFor, strength, sustainRule, type RuleShape } from './scoring.js';

const rule: RuleShape = {
  id: 'test.rule',
  rev: 3,
  min_score: 10,
  min_fired: 2,
  require_groups: [['volume'], ['fanout', 'timing']],
  signals: {
    volume: { threshold: 100, saturate: 10_000, weight: 0.5 },
    fanout: { threshold: 50, saturate: 500, weight: 0.3 },
    timing: { threshold: 0.5, saturate: 0.9, weight: 0.2 },
  },
};

describe('scoring', () => {
  it('gives half the weight at the threshold, all of it at saturation, log scale between', () => {
    const s = rule.signals.volume!;
    expect(strength(99, s)).toBe(0);
    expect(strength(100, s)).toBe(0.5);
    expect(strength(1_000, s)).toBeCloseTo(0.75, 10);
    expect(strength(10_000, s)).toBe(1);
    expect(strength(1e9, s)).toBe(1);
    expect(strength(1e9, { ...s, weight: 0 })).toBe(0);
  });

  it('explains the score: every fired signal with value, threshold and weight', () => {
    const scored = scoreRule(rule, { volume: 1_000, fanout: 500, timing: 0.1 })!;
    expect(scored.rule).toBe('test.rule@3');
    expect(scored.signals).toEqual([
      { name: 'volume', value: 1_000, threshold: 100, weight: 0.5 },
      { name: 'fanout', value: 500, threshold: 50, weight: 0.3 },
    ]);
    // 100 × (0.5 × 0.75 + 0.3 × 1) / 1.0
    expect(scored.score).toBe(68);
  });

  it('needs every group and the least number of fired signals: volume alone never scores', () => {
    expect(scoreRule(rule, { volume: 1e9 })).toBeUndefined();
    expect(scoreRule(rule, { fanout: 1e9, timing: 1 })).toBeUndefined();
    expect(scoreRule({ ...rule, min_score: 90 }, { volume: 100, timing: 0.5 })).toBeUndefined();
    expect(scoreRule(rule, { volume: 100, timing: 0.5 })?.score).toBe(35);
  });

  it('skips gate names without a signal, and a gate with none never passes', () => {
    const loose: RuleShape = { ...rule, require_groups: [['volume', 'unknown'], ['nothing', 'fanout']] };
    expect(scoreRule(loose, { volume: 1_000, fanout: 500 })?.score).toBe(68);
    expect(scoreRule(loose, { volume: 1_000, unknown: 1e9, timing: 1 })).toBeUndefined();
    expect(scoreRule({ ...rule, require_groups: [['nothing']] }, { volume: 1e9, fanout: 1e9, timing: 1 })).toBeUndefined();
  });

  it('keeps an open incident alive on short- and medium-window signals only, in the rule order', () => {
    const windows: RuleShape = {
      ...rule,
      signals: {
        peers_24h: { threshold: 10, saturate: 100, weight: 0.4 },
        bytes_in_1h: { threshold: 100, saturate: 10_000, weight: 0.4 },
        idle: { threshold: 1, saturate: 2, weight: 0 },
      },
    };
    expect(sustainRule(windows, { peers_24h: 100, idle: 5 })).toBeUndefined();
    const kept = sustainRule(windows, { peers_24h: 100, bytes_in_1h: 100 })!;
    expect(kept).toEqual({
      rule: 'test.rule@3',
      score: 75,
      signals: [
        { name: 'peers_24h', value: 100, threshold: 10, weight: 0.4 },
        { name: 'bytes_in_1h', value: 100, threshold: 100, weight: 0.4 },
      ],
    });
    // The same rule object again: the same answers.
    expect(sustainRule(windows, { peers_24h: 100, bytes_in_1h: 100 })).toEqual(kept);
  });

  it('maps scores to the configured severity bands', () => {
    const bands = detectionRulesSchema.parse({}).severity;
    expect([0, 39, 40, 64, 65, 84, 85, 100].map((s) => severityFor(s, bands))).toEqual(['low', 'low', 'medium', 'medium', 'high', 'high', 'critical', 'critical']);
    expect(severityFor(50, { medium: 10, high: 20, critical: 50 })).toBe('critical');
  });
});
