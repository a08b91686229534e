import { describe, expect, it } from 'vitest';
import { detectSchema, detectionRulesSchema } from './config.js';
import { HostState, featureContext, featuresScratch } from './features.js';

describe('featuresScratch', () => {
  const ctx = featureContext(detectSchema.parse({}), detectionRulesSchema.parse({}));

  it('has every feature HostState.features sets, in its order', () => {
    const computed = new HostState('10.0.0.5', ctx).features(ctx, null);
    expect(Object.keys(featuresScratch())).toEqual(Object.keys(computed));
  });

  it('is filled with the same values as a fresh object', () => {
    const state = new HostState('10.0.0.5', ctx);
    const scratch = featuresScratch();
    expect(state.features(ctx, null, scratch)).toBe(scratch);
    expect(scratch).toEqual(state.features(ctx, null));
  });
});
