import type { GroundTruth, Label, LabelKind, SwarmLabel } from './types.js';
import { DAY_MS, HOUR_MS } from './world.js';

// Match incidents to the ground truth.
//
// Rules (documented in test/eval/README.md):
// - An incident speaks about a labelled host when the host is in `hosts` and the incident's
//   [first_seen, last_seen] overlaps the label's [start, end] widened by `slackMs` on each side.
// - Right kind: a `bittorrent` incident for a BitTorrent label, a `bulk_acquisition` incident for a
//   bulk label, and a `swarm` incident for any label that belongs to a labelled swarm. Anything
//   else that names a labelled host is "detected, wrong kind": it is not counted in the kind's
//   recall but it is no false incident either.
// - A labelled swarm is detected when one `swarm` incident names at least two of its members;
//   member coverage is the share of members named by the swarm incidents that matched it.
// - A false incident names no labelled host with an overlapping label. Rates are per 1,000
//   benign host-days: the host-days (host × simulated day) that carry no labelled activity.
// - Detection latency: detection time minus label start, where detection time is the incident's
//   `detected_at` when the engine reports one, else `opened_at` (the event time of its `opened`
//   journal entry, filled in by engine.ts), else its `first_seen`; floored at 0.

/** The fields the scorer reads from an incident (the Incident contract, plus optional timing). */
export interface ScoredIncident {
  id: string;
  kind: string;
  hosts: string[];
  first_seen: string;
  last_seen: string;
  detected_at?: string;
  opened_at?: string;
  approved_source?: string | null;
  rule?: string;
}

export type IncidentVerdict = 'correct' | 'wrong_kind' | 'false';

export interface LatencySummary {
  count: number;
  medianMinutes: number | null;
  p90Minutes: number | null;
  maxMinutes: number | null;
}

export interface KindScore {
  /** Labelled hosts (or swarms) of this kind. */
  labelled: number;
  detected: number;
  wrongKind: number;
  missed: string[];
  recall: number | null;
  /** Incidents of this kind the engine raised. */
  incidents: number;
  correctIncidents: number;
  precision: number | null;
  falseIncidents: number;
  latency: LatencySummary;
}

export interface Score {
  kinds: Record<'bittorrent' | 'bulk_acquisition' | 'swarm', KindScore>;
  /** Recall per technique (bt_client, mass_download, scraper, slow_crawler). */
  techniques: Record<string, { labelled: number; detected: number; recall: number | null; latency: LatencySummary }>;
  swarmMemberCoverage: number | null;
  incidents: number;
  falseIncidents: number;
  /** False incidents naming a host that is labelled at another time (e.g. residue after its BitTorrent stopped). */
  falseOnLabelledHosts: number;
  benignHostDays: number;
  falsePer1000BenignHostDays: number;
  /** Benign hosts named by any incident (also those inside an otherwise correct swarm incident). */
  benignHostsFlagged: string[];
  verdicts: { id: string; kind: string; verdict: IncidentVerdict; hosts: string[]; rule?: string }[];
}

interface Span {
  start: number;
  end: number;
}

function overlaps(a: Span, b: Span, slackMs: number): boolean {
  return a.start <= b.end + slackMs && b.start - slackMs <= a.end;
}

function labelSpan(l: { start: string; end: string }): Span {
  return { start: Date.parse(l.start), end: Date.parse(l.end) };
}

function incidentSpan(i: ScoredIncident): Span {
  return { start: Date.parse(i.first_seen), end: Date.parse(i.last_seen) };
}

function detectionTime(i: ScoredIncident): number {
  const t = i.detected_at ?? i.opened_at ?? i.first_seen;
  return Date.parse(t);
}

function rightKind(incidentKind: string, label: Label): boolean {
  if (incidentKind === 'swarm') return label.swarm !== undefined;
  return incidentKind === label.kind;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx]!;
}

function summarizeLatency(latenciesMs: number[]): LatencySummary {
  const minutes = latenciesMs.map((ms) => ms / 60_000).sort((a, b) => a - b);
  const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);
  return {
    count: minutes.length,
    medianMinutes: round(percentile(minutes, 0.5)),
    p90Minutes: round(percentile(minutes, 0.9)),
    maxMinutes: round(minutes.length ? minutes[minutes.length - 1]! : null),
  };
}

function ratio(n: number, d: number): number | null {
  return d === 0 ? null : n / d;
}

/** Host-days with no labelled activity (a labelled host is benign on the days before and after its label). */
export function benignHostDays(truth: GroundTruth): number {
  const start = Date.parse(truth.start);
  const byHost = new Map<string, Span[]>();
  for (const l of truth.labels) {
    const list = byHost.get(l.host) ?? [];
    list.push(labelSpan(l));
    byHost.set(l.host, list);
  }
  let count = 0;
  for (const h of truth.hosts) {
    const spans = byHost.get(h.ip) ?? [];
    for (let d = 0; d < truth.days; d++) {
      const day = { start: start + d * DAY_MS, end: start + (d + 1) * DAY_MS - 1 };
      if (!spans.some((s) => overlaps(s, day, 0))) count++;
    }
  }
  return count;
}

export function scoreIncidents(incidents: ScoredIncident[], truth: GroundTruth, options: { slackMs?: number } = {}): Score {
  const slack = options.slackMs ?? HOUR_MS;
  const labelsByHost = new Map<string, Label[]>();
  for (const l of truth.labels) {
    const list = labelsByHost.get(l.host) ?? [];
    list.push(l);
    labelsByHost.set(l.host, list);
  }

  const verdicts: Score['verdicts'] = [];
  const benignFlagged = new Set<string>();
  // Per label: the earliest detection time by an incident of the right kind, and whether a wrong-kind one named it.
  const detectedAt = new Map<Label, number>();
  const wrongKindOf = new Set<Label>();
  const swarmDetectedAt = new Map<SwarmLabel, number>();
  const swarmMembersNamed = new Map<SwarmLabel, Set<string>>();
  const perKind = { bittorrent: { n: 0, correct: 0, false: 0 }, bulk_acquisition: { n: 0, correct: 0, false: 0 }, swarm: { n: 0, correct: 0, false: 0 } };

  for (const inc of incidents) {
    const span = incidentSpan(inc);
    let anyRight = false;
    let anyLabelled = false;
    for (const host of inc.hosts) {
      const overlapping = (labelsByHost.get(host) ?? []).filter((l) => overlaps(labelSpan(l), span, slack));
      if (overlapping.length === 0) {
        benignFlagged.add(host);
        continue;
      }
      anyLabelled = true;
      for (const l of overlapping) {
        if (rightKind(inc.kind, l)) {
          anyRight = true;
          const t = detectionTime(inc);
          const prev = detectedAt.get(l);
          if (prev === undefined || t < prev) detectedAt.set(l, t);
        } else wrongKindOf.add(l);
      }
    }
    let verdict: IncidentVerdict = anyRight ? 'correct' : anyLabelled ? 'wrong_kind' : 'false';
    if (inc.kind === 'swarm') {
      let matchedSwarm = false;
      for (const s of truth.swarms) {
        if (!overlaps(labelSpan(s), span, slack)) continue;
        const named = inc.hosts.filter((h) => s.hosts.includes(h));
        if (named.length >= 2) {
          matchedSwarm = true;
          const t = detectionTime(inc);
          const prev = swarmDetectedAt.get(s);
          if (prev === undefined || t < prev) swarmDetectedAt.set(s, t);
          const set = swarmMembersNamed.get(s) ?? new Set<string>();
          for (const h of named) set.add(h);
          swarmMembersNamed.set(s, set);
        }
      }
      // A swarm incident is right only when it correlates members of one labelled swarm.
      if (verdict === 'correct' && !matchedSwarm) verdict = 'wrong_kind';
    }
    const k = inc.kind === 'bittorrent' || inc.kind === 'bulk_acquisition' || inc.kind === 'swarm' ? inc.kind : undefined;
    if (k) {
      perKind[k].n++;
      if (verdict === 'correct') perKind[k].correct++;
      if (verdict === 'false') perKind[k].false++;
    }
    verdicts.push({ id: inc.id, kind: inc.kind, verdict, hosts: inc.hosts, ...(inc.rule ? { rule: inc.rule } : {}) });
  }

  const hostKind = (kind: LabelKind): KindScore => {
    const labels = truth.labels.filter((l) => l.kind === kind);
    const detected = labels.filter((l) => detectedAt.has(l));
    const wrong = labels.filter((l) => !detectedAt.has(l) && wrongKindOf.has(l));
    const latencies = detected.map((l) => Math.max(0, detectedAt.get(l)! - Date.parse(l.start)));
    return {
      labelled: labels.length,
      detected: detected.length,
      wrongKind: wrong.length,
      missed: labels.filter((l) => !detectedAt.has(l)).map((l) => `${l.host}:${l.technique}`),
      recall: ratio(detected.length, labels.length),
      incidents: perKind[kind].n,
      correctIncidents: perKind[kind].correct,
      precision: ratio(perKind[kind].correct, perKind[kind].n),
      falseIncidents: perKind[kind].false,
      latency: summarizeLatency(latencies),
    };
  };

  const swarmsDetected = truth.swarms.filter((s) => swarmDetectedAt.has(s));
  const swarmScore: KindScore = {
    labelled: truth.swarms.length,
    detected: swarmsDetected.length,
    wrongKind: 0,
    missed: truth.swarms.filter((s) => !swarmDetectedAt.has(s)).map((s) => `${s.id}(${s.hosts.join(',')})`),
    recall: ratio(swarmsDetected.length, truth.swarms.length),
    incidents: perKind.swarm.n,
    correctIncidents: perKind.swarm.correct,
    precision: ratio(perKind.swarm.correct, perKind.swarm.n),
    falseIncidents: perKind.swarm.false,
    latency: summarizeLatency(swarmsDetected.map((s) => Math.max(0, swarmDetectedAt.get(s)! - Date.parse(s.start)))),
  };
  const members = truth.swarms.reduce((n, s) => n + s.hosts.length, 0);
  const membersNamed = [...swarmMembersNamed.values()].reduce((n, s) => n + s.size, 0);

  const techniques: Score['techniques'] = {};
  const techniqueLatencies = new Map<string, number[]>();
  for (const l of truth.labels) {
    const t = (techniques[l.technique] ??= { labelled: 0, detected: 0, recall: null, latency: summarizeLatency([]) });
    t.labelled++;
    const at = detectedAt.get(l);
    if (at === undefined) continue;
    t.detected++;
    const list = techniqueLatencies.get(l.technique) ?? [];
    list.push(Math.max(0, at - Date.parse(l.start)));
    techniqueLatencies.set(l.technique, list);
  }
  for (const [name, t] of Object.entries(techniques)) {
    t.recall = ratio(t.detected, t.labelled);
    t.latency = summarizeLatency(techniqueLatencies.get(name) ?? []);
  }

  const falseVerdicts = verdicts.filter((v) => v.verdict === 'false');
  const falseIncidents = falseVerdicts.length;
  const falseOnLabelledHosts = falseVerdicts.filter((v) => v.hosts.some((h) => labelsByHost.has(h))).length;
  const hostDays = benignHostDays(truth);
  return {
    kinds: { bittorrent: hostKind('bittorrent'), bulk_acquisition: hostKind('bulk_acquisition'), swarm: swarmScore },
    techniques,
    swarmMemberCoverage: ratio(membersNamed, members),
    incidents: incidents.length,
    falseIncidents,
    falseOnLabelledHosts,
    benignHostDays: hostDays,
    falsePer1000BenignHostDays: hostDays === 0 ? 0 : (falseIncidents / hostDays) * 1000,
    benignHostsFlagged: [...benignFlagged].sort(),
    verdicts,
  };
}

/** The quality bar of the issue: which parts hold for a score. */
export interface QualityBar {
  bittorrentRecall: boolean;
  swarmRecall: boolean;
  bulkRecall: boolean;
  falseRate: boolean;
  pass: boolean;
}

export function qualityBar(score: Score): QualityBar {
  const full = (r: number | null): boolean => r === null || r >= 1;
  const bar = {
    bittorrentRecall: full(score.kinds.bittorrent.recall),
    swarmRecall: full(score.kinds.swarm.recall),
    bulkRecall: score.kinds.bulk_acquisition.recall === null || score.kinds.bulk_acquisition.recall >= 0.95,
    falseRate: score.falsePer1000BenignHostDays <= 1,
  };
  return { ...bar, pass: bar.bittorrentRecall && bar.swarmRecall && bar.bulkRecall && bar.falseRate };
}
