import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EgressdError } from '../../errors.js';
import {
  GENESIS_HASH,
  JOURNAL_DIR,
  checkLine,
  seqOfTornLine,
  sortJournalFiles,
  type BreakReason,
  type JournalEntry,
} from './format.js';

const READ_CHUNK = 1 << 20;

export interface RawLine {
  /** The line without its newline. */
  bytes: Buffer;
  /** 1-based. */
  lineNo: number;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  /** False for trailing bytes after the last newline. */
  terminated: boolean;
}

/**
 * The lines of a file, reading only as far as its size when opened (an appender may keep
 * writing; what it adds later is not ours to judge).
 */
export async function* readLines(path: string): AsyncGenerator<RawLine> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    let position = 0;
    let carry: Buffer | undefined;
    let carryOffset = 0;
    let lineNo = 0;
    while (position < size) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - position));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      const data: Buffer = carry ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      const dataOffset = carry ? carryOffset : position;
      position += bytesRead;
      let start = 0;
      for (;;) {
        const nl = data.indexOf(10, start);
        if (nl < 0) break;
        lineNo++;
        yield { bytes: data.subarray(start, nl), lineNo, offset: dataOffset + start, terminated: true };
        start = nl + 1;
      }
      carry = start < data.length ? data.subarray(start) : undefined;
      carryOffset = dataOffset + start;
    }
    if (carry) yield { bytes: carry, lineNo: lineNo + 1, offset: carryOffset, terminated: false };
  } finally {
    await handle.close();
  }
}

export interface BrokenEntry {
  /** File name inside the journal directory. */
  file: string;
  path: string;
  /** 1-based line in that file. */
  line: number;
  /** Byte offset of the line in the file. */
  offset: number;
  /** The seq the line carries, or the one it should have carried when unreadable. */
  seq: number;
  reason: BreakReason;
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries that verified (all of them when ok; those before the break otherwise). */
  entries: number;
  files: number;
  /** Last verified entry: anchor this hash elsewhere to make truncation evident too. */
  head: { seq: number; hash: string };
  /** First broken entry: file, 1-based line, seq and why. */
  broken?: BrokenEntry;
}

type ScanItem =
  | { kind: 'entry'; entry: JournalEntry; file: string; line: number; end: number }
  | { kind: 'broken'; broken: BrokenEntry };

async function journalFiles(dir: string): Promise<{ name: string; index: number }[]> {
  try {
    return sortJournalFiles(await readdir(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Walk the files of a journal in chain order, checking every line, from a given chain state.
 * Stops after the first broken line. Unterminated bytes at the end of the last file are a torn
 * tail (`truncated_tail`); anywhere else they are `bad_json`.
 */
async function* scanFiles(
  dir: string,
  files: readonly { name: string }[],
  start: { seq: number; hash: string },
): AsyncGenerator<ScanItem> {
  let expectedSeq = start.seq + 1;
  let expectedPrev = start.hash;
  for (let i = 0; i < files.length; i++) {
    const name = files[i]!.name;
    const path = join(dir, name);
    const isLast = i === files.length - 1;
    for await (const raw of readLines(path)) {
      if (!raw.terminated) {
        yield {
          kind: 'broken',
          broken: {
            file: name,
            path,
            line: raw.lineNo,
            offset: raw.offset,
            seq: seqOfTornLine(raw.bytes) ?? expectedSeq,
            reason: isLast ? 'truncated_tail' : 'bad_json',
            detail: isLast
              ? `${raw.bytes.length} bytes after the last complete line (an interrupted write)`
              : 'unterminated line in a file that is not the last',
          },
        };
        return;
      }
      const check = checkLine(raw.bytes, expectedSeq, expectedPrev);
      if (!check.ok) {
        yield {
          kind: 'broken',
          broken: {
            file: name,
            path,
            line: raw.lineNo,
            offset: raw.offset,
            seq: check.seq ?? expectedSeq,
            reason: check.reason,
            detail: check.detail,
          },
        };
        return;
      }
      expectedSeq++;
      expectedPrev = check.entry.hash;
      yield { kind: 'entry', entry: check.entry, file: name, line: raw.lineNo, end: raw.offset + raw.bytes.length + 1 };
    }
  }
}

/** Recompute the whole chain under `<stateDir>/journal` and name the first broken entry. */
export async function verifyJournal(stateDir: string): Promise<VerifyResult> {
  const dir = join(stateDir, JOURNAL_DIR);
  const files = await journalFiles(dir);
  let entries = 0;
  let head = { seq: 0, hash: GENESIS_HASH };
  for await (const item of scanFiles(dir, files, head)) {
    if (item.kind === 'broken') return { ok: false, entries, files: files.length, head, broken: item.broken };
    entries++;
    head = { seq: item.entry.seq, hash: item.entry.hash };
  }
  return { ok: true, entries, files: files.length, head };
}

/**
 * Every entry of the journal in chain order, verified as it is read. A torn tail at the very end
 * (an unacknowledged write cut by a crash) is skipped; any other break throws JOURNAL_BROKEN.
 */
export async function* readJournal(stateDir: string): AsyncGenerator<JournalEntry> {
  const dir = join(stateDir, JOURNAL_DIR);
  const files = await journalFiles(dir);
  for await (const item of scanFiles(dir, files, { seq: 0, hash: GENESIS_HASH })) {
    if (item.kind === 'entry') {
      yield item.entry;
      continue;
    }
    if (item.broken.reason === 'truncated_tail') return;
    throw brokenError(item.broken);
  }
}

export function describeBroken(b: BrokenEntry): string {
  return `${b.file} line ${b.line} (seq ${b.seq}): ${b.reason}: ${b.detail}`;
}

function brokenError(b: BrokenEntry): EgressdError {
  return new EgressdError('JOURNAL_BROKEN', `journal broken at ${describeBroken(b)}`);
}

/** Where the chain stands when the sink opens the journal. */
export interface JournalHead {
  dir: string;
  /** Index of the file to append to (created when the journal is empty). */
  fileIndex: number;
  fileName: string;
  /** Bytes of complete, verified entries in that file. */
  fileSize: number;
  seq: number;
  hash: string;
  /** A torn last line that must be cut off before appending. */
  torn?: BrokenEntry & { bytes: number };
}

/**
 * Find the chain head for appending: verify the last file (linked to the last entry of the file
 * before it). A torn tail is reported for the caller to cut; any other break throws.
 */
export async function locateHead(stateDir: string): Promise<JournalHead> {
  const dir = join(stateDir, JOURNAL_DIR);
  const files = await journalFiles(dir);
  const last = files[files.length - 1];
  if (!last) return { dir, fileIndex: 1, fileName: '', fileSize: 0, seq: 0, hash: GENESIS_HASH };

  let start = { seq: 0, hash: GENESIS_HASH };
  const previous = files[files.length - 2];
  if (previous) start = await lastEntryOf(join(dir, previous.name), previous.name);

  let head = start;
  let fileSize = 0;
  for await (const item of scanFiles(dir, [last], start)) {
    if (item.kind === 'entry') {
      head = { seq: item.entry.seq, hash: item.entry.hash };
      fileSize = item.end;
      continue;
    }
    const b = item.broken;
    if (b.reason !== 'truncated_tail') throw brokenError(b);
    const { size } = await stat(b.path);
    return { dir, fileIndex: last.index, fileName: last.name, fileSize, ...head, torn: { ...b, bytes: size - b.offset } };
  }
  return { dir, fileIndex: last.index, fileName: last.name, fileSize, ...head };
}

/** The last entry of a closed file, checked against its own hash. */
async function lastEntryOf(path: string, name: string): Promise<{ seq: number; hash: string }> {
  let lastLine: RawLine | undefined;
  for await (const raw of readLines(path)) lastLine = raw;
  if (!lastLine || !lastLine.terminated) {
    throw new EgressdError('JOURNAL_BROKEN', `journal broken: ${name} does not end with a complete entry`);
  }
  let peek: Partial<JournalEntry> = {};
  try {
    peek = JSON.parse(lastLine.bytes.toString('utf8')) as Partial<JournalEntry>;
  } catch {
    // checkLine names it bad_json below
  }
  const check = checkLine(lastLine.bytes, peek.seq ?? -1, peek.prev ?? '');
  if (!check.ok) {
    throw brokenError({
      file: name,
      path,
      line: lastLine.lineNo,
      offset: lastLine.offset,
      seq: check.seq ?? -1,
      reason: check.reason,
      detail: check.detail,
    });
  }
  return { seq: check.entry.seq, hash: check.entry.hash };
}
