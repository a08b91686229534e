// The alert contract (DESIGN.md): every sink stores these fields as they are.

export type IncidentKind = 'bittorrent' | 'bulk_acquisition' | 'swarm';
export type IncidentStatus = 'open' | 'resolved';
export type Severity = 'low' | 'medium' | 'high' | 'critical';

export interface Signal {
  name: string;
  value: number;
  threshold: number;
  weight: number;
}

export interface IncidentEvidence {
  bytes_in: number;
  bytes_out: number;
  peers: number;
  info_hashes: string[];
  /** Top remotes by bytes (IP or name). */
  remotes: string[];
  signals: Signal[];
  /** Proxy-authenticated users, when the source knows them. */
  users?: string[];
  /** Name of an approved source that matched but had expired, so it no longer applied. */
  approval_expired?: string;
}

export interface Incident {
  id: string;
  kind: IncidentKind;
  status: IncidentStatus;
  hosts: string[];
  /** ISO-8601 event times. */
  first_seen: string;
  last_seen: string;
  score: number;
  severity: Severity;
  /** Name of the approved source considered, or null when none applied. */
  approved_source: string | null;
  evidence: IncidentEvidence;
  /** `rule-id@rev`. */
  rule: string;
  /** Monotonic per incident: each update bumps it (ReplacingMergeTree version). */
  version?: number;
  /** Event time (ISO-8601) at which the engine raised the incident: latency = detected_at − first_seen. */
  detected_at?: string;
}

export type IncidentChangeType = 'opened' | 'updated' | 'resolved';

export interface IncidentChange {
  change: IncidentChangeType;
  incident: Incident;
}
