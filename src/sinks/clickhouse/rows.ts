import { createHash } from 'node:crypto';
import type { IncidentChange } from '../../incidents/types.js';
import type { AuditEvent } from '../types.js';

// Sink entries to table rows. DateTime columns get epoch seconds (both engines parse them in
// JSONEachRow); every row is serialized once, when its batch is cut.

export function epochSeconds(value: string | number | undefined): number {
  if (value === undefined) return 0;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
}

function uint(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function strings(list: unknown): string[] {
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  return String(v);
}

/** The ReplacingMergeTree version: the incident's own, else its last-seen time in ms. */
export function incidentVersion(change: IncidentChange): number {
  const v = change.incident.version;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  const t = Date.parse(change.incident.last_seen);
  return Number.isFinite(t) && t > 0 ? t : 0;
}

export function incidentRow(change: IncidentChange, gateway: string, nowMs: number): Record<string, unknown> {
  const i = change.incident;
  const e = i.evidence;
  return {
    id: i.id,
    version: incidentVersion(change),
    kind: i.kind,
    status: i.status,
    hosts: strings(i.hosts),
    first_seen: epochSeconds(i.first_seen),
    last_seen: epochSeconds(i.last_seen),
    score: Math.min(255, uint(i.score)),
    severity: i.severity,
    approved_source: i.approved_source ?? null,
    rule: i.rule,
    bytes_in: uint(e?.bytes_in),
    bytes_out: uint(e?.bytes_out),
    peers: Math.min(0xffffffff, uint(e?.peers)),
    info_hashes: strings(e?.info_hashes),
    remotes: strings(e?.remotes),
    users: strings(e?.users),
    signals: JSON.stringify(e?.signals ?? []),
    gateway,
    updated_at: epochSeconds(nowMs),
  };
}

export function incidentChangeRow(change: IncidentChange, gateway: string): Record<string, unknown> {
  const i = change.incident;
  return {
    id: i.id,
    version: incidentVersion(change),
    change: change.change,
    at: epochSeconds(i.last_seen),
    status: i.status,
    score: Math.min(255, uint(i.score)),
    severity: i.severity,
    hosts: strings(i.hosts),
    approved_source: i.approved_source ?? null,
    rule: i.rule,
    evidence: JSON.stringify(i.evidence ?? {}),
    gateway,
  };
}

/** A stable key for an audit event, so a replayed event replaces itself. */
export function eventKey(event: AuditEvent): string {
  return createHash('sha256').update(JSON.stringify(event)).digest('hex').slice(0, 32);
}

function firstText(event: AuditEvent, keys: readonly string[]): string {
  for (const k of keys) {
    const v = event[k];
    if (v !== undefined && v !== null && v !== '') return text(v);
  }
  return '';
}

export function triageRow(event: AuditEvent, gateway: string): Record<string, unknown> {
  return {
    at: epochSeconds(event.at),
    incident_id: firstText(event, ['incident_id', 'incident', 'id']),
    actor: firstText(event, ['actor', 'user', 'by', 'analyst']),
    verdict: firstText(event, ['verdict', 'status', 'resolution', 'decision']),
    note: firstText(event, ['note', 'reason', 'comment']),
    event: JSON.stringify(event),
    event_key: eventKey(event),
    gateway,
  };
}

export interface HeartbeatFacts {
  at: number;
  kind: string;
  pid: number;
  uptimeSeconds: number;
  spoolBytes: number;
  pendingRows: number;
  detail: string;
  key: string;
}

export function heartbeatRow(facts: HeartbeatFacts, gateway: string): Record<string, unknown> {
  return {
    at: epochSeconds(facts.at),
    gateway,
    kind: facts.kind,
    pid: uint(facts.pid),
    uptime_s: uint(facts.uptimeSeconds),
    spool_bytes: uint(facts.spoolBytes),
    pending_rows: uint(facts.pendingRows),
    detail: facts.detail,
    event_key: facts.key,
  };
}

/** Non-triage audit events go to the heartbeats table as gateway events. */
export function auditHeartbeatRow(event: AuditEvent, gateway: string, pid: number): Record<string, unknown> {
  return heartbeatRow(
    { at: event.at, kind: text(event.action), pid, uptimeSeconds: 0, spoolBytes: 0, pendingRows: 0, detail: JSON.stringify(event), key: eventKey(event) },
    gateway,
  );
}
