import { readFileSync } from 'node:fs';
import { load as parseYaml } from 'js-yaml';
import type { z } from 'zod';
import { EgressdError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** Format zod issues so each names the path, the bad value and what was expected. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, file: string): string {
  return issues
    .map((issue) => {
      const path = issue.path.length ? formatPath(issue.path) : '(top level)';
      const value = valueAt(input, issue.path);
      const got = value === undefined ? 'nothing' : JSON.stringify(value);
      return `${file}: ${path}: ${issue.message} (got ${got && got.length > 80 ? got.slice(0, 77) + '...' : got})`;
    })
    .join('\n');
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Read a YAML file; a syntax error or unreadable file is a CONFIG_INVALID/RULES_INVALID error. */
export function readYamlFile(path: string, code: 'CONFIG_INVALID' | 'RULES_INVALID'): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EgressdError(code, `${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new EgressdError(code, `${path}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
}

/** Parse `input` with `schema`, throwing an EgressdError whose message lists every issue. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  file: string,
  code: 'CONFIG_INVALID' | 'RULES_INVALID',
): z.output<S> {
  // Parsed once per start: zod's compiled fast path (a function generated per object schema) would
  // cost more than it saves. Same result either way.
  const result = schema.safeParse(input, { jitless: true });
  if (!result.success) throw new EgressdError(code, describeIssues(result.error.issues, input, file));
  return result.data;
}

/** Environment variables that override the file, in every command. */
export function applyEnvironment(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out = { ...raw };
  const ch = { ...((out.clickhouse as Record<string, unknown> | undefined) ?? {}) };
  const map: [string, string][] = [
    ['EGRESSD_CLICKHOUSE_URL', 'url'],
    ['EGRESSD_CLICKHOUSE_DATABASE', 'database'],
    ['EGRESSD_CLICKHOUSE_USER', 'user'],
    ['EGRESSD_CLICKHOUSE_PASSWORD', 'password'],
  ];
  let touched = false;
  for (const [name, key] of map) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      ch[key] = value;
      touched = true;
    }
  }
  if (touched) out.clickhouse = ch;
  if (env.EGRESSD_STATE_DIR) out.state_dir = env.EGRESSD_STATE_DIR;
  return out;
}

export interface ConfigOverrides {
  stateDir?: string;
  rulesDir?: string;
}

/** Load and validate the config file (or defaults when none is given), with overrides applied. */
export function loadConfig(path: string | undefined, overrides: ConfigOverrides = {}, env = process.env): Config {
  const raw = path ? readYamlFile(path, 'CONFIG_INVALID') : {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new EgressdError('CONFIG_INVALID', `${path}: (top level): expected a mapping of options (got ${JSON.stringify(raw)})`);
  }
  const withEnv = applyEnvironment(raw as Record<string, unknown>, env);
  if (overrides.stateDir) withEnv.state_dir = overrides.stateDir;
  if (overrides.rulesDir) withEnv.rules_dir = overrides.rulesDir;
  return parseWith(configSchema, withEnv, path ?? '(defaults)', 'CONFIG_INVALID');
}
