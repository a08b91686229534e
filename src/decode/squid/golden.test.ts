import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { DecodeError } from '../../errors.js';
import type { FlowRecord } from '../../record.js';
import { createSquidDecoder } from './index.js';

// Golden tests: a committed input per logformat goes in, the records and the named errors
// come out and are diffed against the committed baseline. UPDATE_GOLDEN=1 rewrites them.

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), 'testdata');

interface Golden {
  lines: number;
  errors: Record<string, number>;
  records: FlowRecord[];
}

function decodeFile(name: string, logformat: string): Golden {
  const decoder = createSquidDecoder(name, { logformat, max_line_length: 8192 });
  const text = readFileSync(join(TESTDATA, name), 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const records: FlowRecord[] = [];
  const errors: Record<string, number> = {};
  for (const line of lines) {
    try {
      decoder.decodeLine(line, records);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      errors[err.reason] = (errors[err.reason] ?? 0) + 1;
    }
  }
  return { lines: lines.length, errors, records };
}

const CASES: [string, string][] = [
  ['native.log', 'squid'],
  ['common.log', 'common'],
  ['combined.log', 'combined'],
  ['custom.log', readFileSync(join(TESTDATA, 'custom.logformat'), 'utf8').trim()],
];

describe('squid golden files', () => {
  for (const [input, logformat] of CASES) {
    test(`${input} (${logformat.length > 20 ? 'custom format' : logformat})`, () => {
      const got = decodeFile(input, logformat);
      const expectedPath = join(TESTDATA, input.replace(/\.log$/, '.expected.json'));
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(expectedPath)) {
        writeFileSync(expectedPath, JSON.stringify(got, null, 1) + '\n');
      }
      const expected = JSON.parse(readFileSync(expectedPath, 'utf8')) as Golden;
      // Every line is a record or a named error: nothing is lost silently.
      const errorCount = Object.values(got.errors).reduce((a, b) => a + b, 0);
      expect(got.records.length + errorCount).toBe(got.lines);
      expect(JSON.parse(JSON.stringify(got))).toEqual(expected);
    });
  }
});
