import { ROLE_COUNT, roleAcceptsLength, roleOf } from './fields.js';
import type { RecordPlan } from './plan.js';

// Templates (RFC 3954 §5.2, RFC 7011 §3.4) compiled once into role offsets, and the bounded
// cache that holds them, keyed `${exporter}/${domain}/${templateId}`.

/** A field length of 65535 in an IPFIX template: the length is carried in each record. */
export const VARIABLE_LENGTH = 0xffff;

export interface FieldSpec {
  id: number;
  length: number;
  enterprise: number;
}

export interface FlowTemplate {
  readonly key: string;
  readonly id: number;
  /** Options templates describe exporter metadata (sampling, system init time), not flows. */
  readonly options: boolean;
  /** Roles per field (-1 = skipped), in wire order. */
  readonly roles: Int16Array;
  readonly lengths: Uint16Array;
  /** Bytes per record, or -1 when a field is variable-length. */
  readonly fixedLength: number;
  /** Smallest possible record: anything shorter at the end of a set is padding. */
  readonly minLength: number;
  /** For fixed-length templates: offset of each role inside a record (-1 = absent). */
  readonly offsets: Int32Array;
  /** Length of each role's field. */
  readonly roleLengths: Int32Array;
  /** A stable text of the layout, to tell a refresh from a change. */
  readonly layout: string;
  /** When the exporter last sent this template (ms, the clock of the datagrams). */
  refreshedAt: number;
  /** The template record as sent: an identical refresh is recognised without parsing. */
  raw: Uint8Array;
  /** Resolved record layout of a fixed-length flow template, built on first use. */
  plan?: RecordPlan;
}

/**
 * Compile a template. `scopeFields` leading fields are NetFlow v9 scope fields, whose types are
 * scope kinds (System, Interface...) rather than elements, so they are never given a role.
 * Returns undefined for a layout that cannot describe records.
 */
export function compileTemplate(
  key: string,
  id: number,
  fields: readonly FieldSpec[],
  options: boolean,
  v9ScopeFields: number,
  variableAllowed: boolean,
  now: number,
): FlowTemplate | undefined {
  if (fields.length === 0) return undefined;
  const roles = new Int16Array(fields.length);
  const lengths = new Uint16Array(fields.length);
  const offsets = new Int32Array(ROLE_COUNT).fill(-1);
  const roleLengths = new Int32Array(ROLE_COUNT);
  let fixed = 0;
  let min = 0;
  let variable = false;
  let layout = options ? 'o' : 'd';
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const isVariable = variableAllowed && f.length === VARIABLE_LENGTH;
    if (f.length === 0 && !isVariable) return undefined;
    let role = i < v9ScopeFields ? -1 : roleOf(f.id, f.enterprise);
    if (role >= 0 && (isVariable || !roleAcceptsLength(role, f.length))) role = -1;
    roles[i] = role;
    lengths[i] = f.length;
    if (isVariable) {
      variable = true;
      min += 1;
    } else {
      if (role >= 0) {
        offsets[role] = fixed;
        roleLengths[role] = f.length;
      }
      fixed += f.length;
      min += f.length;
    }
    layout += `,${f.enterprise ? `${f.enterprise}:` : ''}${f.id}/${f.length}`;
  }
  if (min === 0) return undefined;
  if (variable) offsets.fill(-1);
  return {
    key,
    id,
    options,
    roles,
    lengths,
    fixedLength: variable ? -1 : fixed,
    minLength: min,
    offsets,
    roleLengths,
    layout,
    refreshedAt: now,
    raw: new Uint8Array(0),
  };
}

/** Bounded template store: least recently refreshed templates are evicted first. */
export class TemplateCache {
  private readonly templates = new Map<string, FlowTemplate>();
  evicted = 0;
  expired = 0;

  constructor(private readonly maxTemplates: number) {}

  get size(): number {
    return this.templates.size;
  }

  get(key: string): FlowTemplate | undefined {
    return this.templates.get(key);
  }

  /** Store or refresh; returns the template it replaced, if any. */
  set(template: FlowTemplate): FlowTemplate | undefined {
    const previous = this.templates.get(template.key);
    if (previous) this.templates.delete(template.key);
    this.templates.set(template.key, template);
    while (this.templates.size > this.maxTemplates) {
      const oldest = this.templates.keys().next().value as string;
      this.templates.delete(oldest);
      this.evicted++;
    }
    return previous;
  }

  /** An identical refresh: only the age and the eviction order change. */
  touch(template: FlowTemplate, now: number): void {
    template.refreshedAt = now;
    this.templates.delete(template.key);
    this.templates.set(template.key, template);
  }

  delete(key: string): boolean {
    return this.templates.delete(key);
  }

  /** Withdraw every template of one exporter and domain (IPFIX "withdraw all"). */
  deleteDomain(prefix: string, options: boolean): number {
    let n = 0;
    for (const [key, t] of this.templates) {
      if (t.options === options && key.startsWith(prefix)) {
        this.templates.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Drop templates not refreshed since `before`. Map order is refresh order. */
  expire(before: number): number {
    let n = 0;
    for (const [key, t] of this.templates) {
      if (t.refreshedAt >= before) break;
      this.templates.delete(key);
      n++;
    }
    this.expired += n;
    return n;
  }
}
