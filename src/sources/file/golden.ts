import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Golden-file comparison: with UPDATE_GOLDEN=1 the baseline is (re)written from `actual`,
 * otherwise `actual` is returned with the stored baseline for the caller to compare.
 */
export function golden(path: string, actual: string): { expected: string; actual: string } {
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    if (process.env.UPDATE_GOLDEN !== '1') throw new Error(`golden file missing: ${path} (run with UPDATE_GOLDEN=1 and review it)`);
    writeFileSync(path, actual);
  }
  return { expected: readFileSync(path, 'utf8'), actual };
}
