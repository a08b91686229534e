import { createHash } from 'node:crypto';
import type { IncidentChangeType, Incident } from '../../incidents/types.js';
import type { AuditEvent, SinkEntry } from '../types.js';

// The journal line format (README.md beside this file). Hashes cover the exact bytes written,
// so a verifier never re-serialises anything: it strips the hash field from the line and hashes
// what is left.

/** `prev` of the very first entry. */
export const GENESIS_HASH = '0'.repeat(64);

export const JOURNAL_DIR = 'journal';

const FILE_NAME = /^journal-(\d{6,})\.ndjson$/;

export function journalFileName(index: number): string {
  return `journal-${String(index).padStart(6, '0')}.ndjson`;
}

/** The file's index, or undefined for any other name in the directory. */
export function journalFileIndex(name: string): number | undefined {
  const m = FILE_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Journal file names of a directory listing, in chain order. */
export function sortJournalFiles(names: readonly string[]): { name: string; index: number }[] {
  const files: { name: string; index: number }[] = [];
  for (const name of names) {
    const index = journalFileIndex(name);
    if (index !== undefined) files.push({ name, index });
  }
  return files.sort((a, b) => a.index - b.index);
}

/** One parsed journal line. */
export interface JournalEntry {
  seq: number;
  /** Wall-clock time the entry was written, ISO-8601. */
  at: string;
  type: 'incident' | 'audit';
  change?: IncidentChangeType;
  incident?: Incident;
  event?: AuditEvent;
  prev: string;
  hash: string;
}

// `,"hash":"` + 64 hex + `"}`
const HASH_SUFFIX_LENGTH = 9 + 64 + 2;
const CLOSE_BRACE = Buffer.from('}');
const NEWLINE = Buffer.from('\n');
const HEX64 = /^[0-9a-f]{64}$/;

function chainHash(prev: string, body: Uint8Array, bodyEnd: number): string {
  const h = createHash('sha256');
  h.update(prev);
  h.update(NEWLINE);
  h.update(body.subarray(0, bodyEnd));
  h.update(CLOSE_BRACE);
  return h.digest('hex');
}

/**
 * The body of an entry (without `hash`) in a fixed key order. Throws when the payload cannot be
 * serialised (a caller's bug, reported to the caller rather than poisoning the chain).
 */
export function entryBody(entry: SinkEntry, seq: number, at: string, prev: string): string {
  if (entry.type === 'incident') {
    return JSON.stringify({
      seq,
      at,
      type: 'incident',
      change: entry.change.change,
      incident: entry.change.incident,
      prev,
    });
  }
  return JSON.stringify({ seq, at, type: 'audit', event: entry.event, prev });
}

/** The full line (with its newline) and its hash: hash = sha256(prev + "\n" + body). */
export function encodeEntry(entry: SinkEntry, seq: number, at: string, prev: string): { line: Buffer; hash: string } {
  const body = entryBody(entry, seq, at, prev);
  const hash = createHash('sha256').update(prev + '\n' + body).digest('hex');
  // `hash` goes in as the last field: the body's closing brace becomes `,"hash":"…"}`.
  return { line: Buffer.from(body.slice(0, -1) + ',"hash":"' + hash + '"}\n'), hash };
}

export type BreakReason = 'bad_json' | 'hash_mismatch' | 'prev_mismatch' | 'seq_gap' | 'truncated_tail';

export type LineCheck =
  | { ok: true; entry: JournalEntry }
  | { ok: false; reason: BreakReason; seq?: number; detail: string };

/**
 * Check one complete line (without its newline) against the chain so far. Order of checks:
 * the line parses as an entry, its own hash matches its bytes, its seq follows, its prev links.
 */
export function checkLine(line: Uint8Array, expectedSeq: number, expectedPrev: string): LineCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8'));
  } catch {
    return { ok: false, reason: 'bad_json', detail: 'line is not valid JSON' };
  }
  if (!isEntryShape(parsed)) {
    const seq = typeof (parsed as { seq?: unknown })?.seq === 'number' ? (parsed as { seq: number }).seq : undefined;
    return { ok: false, reason: 'bad_json', ...(seq !== undefined ? { seq } : {}), detail: 'not a journal entry (seq, at, type, prev, hash)' };
  }
  const entry = parsed;
  if (!hasHashSuffix(line, entry.hash)) {
    return { ok: false, reason: 'hash_mismatch', seq: entry.seq, detail: 'hash is not the last field of the line' };
  }
  const computed = chainHash(entry.prev, line, line.length - HASH_SUFFIX_LENGTH);
  if (computed !== entry.hash) {
    return { ok: false, reason: 'hash_mismatch', seq: entry.seq, detail: `stored ${entry.hash}, computed ${computed}` };
  }
  if (entry.seq !== expectedSeq) {
    return { ok: false, reason: 'seq_gap', seq: entry.seq, detail: `expected seq ${expectedSeq}, found ${entry.seq}` };
  }
  if (entry.prev !== expectedPrev) {
    return { ok: false, reason: 'prev_mismatch', seq: entry.seq, detail: `prev ${entry.prev} does not match the previous entry's hash ${expectedPrev}` };
  }
  return { ok: true, entry };
}

function isEntryShape(v: unknown): v is JournalEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(e.seq) &&
    typeof e.at === 'string' &&
    (e.type === 'incident' || e.type === 'audit') &&
    typeof e.prev === 'string' &&
    HEX64.test(e.prev) &&
    typeof e.hash === 'string' &&
    HEX64.test(e.hash)
  );
}

function hasHashSuffix(line: Uint8Array, hash: string): boolean {
  if (line.length < HASH_SUFFIX_LENGTH + 2) return false;
  const tail = Buffer.from(line.buffer, line.byteOffset + line.length - HASH_SUFFIX_LENGTH, HASH_SUFFIX_LENGTH).toString('latin1');
  return tail === `,"hash":"${hash}"}`;
}

/** The seq a torn line was going to carry, when enough of it survived to say. */
export function seqOfTornLine(line: Uint8Array): number | undefined {
  const m = /^\{"seq":(\d+),/.exec(Buffer.from(line.buffer, line.byteOffset, Math.min(line.length, 40)).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}
