import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LineDecoder } from '../../decode/types.js';
import type { FlowRecord } from '../../record.js';
import type { AuditEvent } from '../../sinks/types.js';
import type { Logger } from '../../telemetry/logger.js';
import type { SourceMetrics } from '../../telemetry/metrics.js';
import type { RecordBatchSink } from '../types.js';
import { LineBatcher, readsBytes } from './batcher.js';
import { HEAD_BYTES, headHash, readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
import { DEFAULT_MAX_LINE_BYTES, LineRanges, LineSplitter } from './lines.js';
import type { FileSourceMetrics } from './metrics.js';

const READ_CHUNK_BYTES = 256 * 1024;
/** During a long catch-up, write a checkpoint at least this often. */
const CHECKPOINT_INTERVAL_MS = 1000;
/** Checkpoint audit events per file at most this often (they go to the journal). */
export const CHECKPOINT_AUDIT_INTERVAL_MS = 5000;
/** Directory entries examined when looking for a file rotated away while we were stopped. */
const MAX_ROTATED_CANDIDATES = 1000;

/** Lines a decoder needs again when reading resumes mid-file (Zeek `#` headers, a VPC header). */
export type HeaderLineTest = (line: string, lineIndex: number) => boolean;

export interface TailDeps {
  format: string;
  id: string;
  newDecoder: () => LineDecoder;
  headerLine: HeaderLineTest | undefined;
  out: RecordBatchSink;
  metrics: SourceMetrics;
  fileMetrics: FileSourceMetrics;
  logger: Logger;
  stateDir: string;
  audit: (event: AuditEvent) => void;
  /** Read a file found at start without a checkpoint from its end (`start_at: end`). */
  startAtEnd: boolean;
  maxLineBytes?: number;
  now?: () => number;
}

/** A rejected push: the pipeline behind the source is gone, which is fatal for the daemon. */
export class PushFailed extends Error {
  constructor(cause: unknown) {
    super('pushing records downstream failed', { cause });
    this.name = 'PushFailed';
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * One tailed path. Reads what was appended, follows rename rotation (drains the old inode, then
 * opens the new file at the path from its start) and truncation (restarts at 0), and keeps a
 * checkpoint whose offset only ever covers lines whose records `out.push` accepted.
 */
export class TailedFile {
  private handle: FileHandle | undefined;
  private dev = '';
  private ino = '';
  /** Next byte to read. */
  private readPos = 0;
  /** Just after the last line whose records were pushed: what the checkpoint says. */
  private committed = 0;
  private firstOpen = true;
  private readonly splitter: LineSplitter;
  private readonly batcher: LineBatcher;
  private readonly lines: string[] = [];
  private readonly ranges = new LineRanges();
  /** The decoder reads bytes: no string per line. */
  private readonly byteMode: boolean;
  private readonly readBuffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  private written: { ino: string; offset: number } | undefined;
  /** Start of the current file as last checkpointed, to notice it being rewritten in place. */
  private head: { hash: string; length: number } | undefined;
  private lastCheckpointAt = 0;
  private lastAuditAt = -Infinity;
  private auditedOffset = -1;
  private readonly now: () => number;
  private readonly lag;
  private readonly labels;

  constructor(
    readonly path: string,
    private readonly deps: TailDeps,
  ) {
    this.splitter = new LineSplitter(deps.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    const decoder = deps.newDecoder();
    this.byteMode = readsBytes(decoder);
    this.batcher = new LineBatcher(decoder, deps.metrics, deps.format, deps.id, deps.logger);
    this.now = deps.now ?? Date.now;
    this.labels = { source: deps.format, id: deps.id };
    this.lag = deps.metrics.lag.labels(this.labels);
  }

  /** One polling pass: notice truncation, read what is new, then look for rotation. */
  async poll(stopping: () => boolean): Promise<void> {
    if (!this.handle && !(await this.openAtPath())) return;
    // Before reading on: a file cut short or rewritten in place must be read from its start,
    // not from our old offset into the new content.
    const size = (await this.handle!.stat()).size;
    if (size < this.readPos || !(await this.sameHead())) {
      this.deps.fileMetrics.rotations.inc({ ...this.labels, kind: 'truncate' });
      this.deps.logger.info({ path: this.path }, 'file truncated or rewritten: reading it again from its start');
      this.restartAt(0);
    }
    await this.drain(stopping);
    if (stopping()) return;

    let current;
    try {
      current = await stat(this.path, { bigint: true });
    } catch (err) {
      if (!isMissing(err)) throw err;
      // Renamed away and not recreated yet: keep reading the old inode.
      current = undefined;
    }
    if (current && (String(current.ino) !== this.ino || String(current.dev) !== this.dev)) {
      // The writer may have appended to the old inode until it reopened: read that first.
      await this.drain(stopping);
      if (stopping()) return;
      await this.finishFile();
      this.deps.fileMetrics.rotations.inc({ ...this.labels, kind: 'rename' });
      this.deps.logger.info({ path: this.path }, 'file rotated: reading the new file from its start');
      if (await this.openAtPath()) await this.drain(stopping);
    }
    await this.checkpoint(false);
  }

  /** Final checkpoint and release the file. */
  async close(): Promise<void> {
    try {
      if (this.handle) await this.checkpoint(true);
    } finally {
      const handle = this.handle;
      this.handle = undefined;
      await handle?.close();
    }
  }

  private async openAtPath(): Promise<boolean> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'r');
    } catch (err) {
      if (isMissing(err)) {
        // Appears later: everything in it is new, whatever `start_at` says.
        this.firstOpen = false;
        return false;
      }
      throw err;
    }
    const st = await handle.stat({ bigint: true });
    const first = this.firstOpen;
    this.firstOpen = false;
    this.adopt(handle, String(st.dev), String(st.ino));
    let start = 0;
    if (first) {
      const cp = await readCheckpoint(this.deps.stateDir, this.path);
      if (cp && cp.dev === this.dev && cp.ino === this.ino) {
        if (cp.offset <= Number(st.size) && (await this.headMatches(handle, cp))) start = cp.offset;
      } else if (cp) {
        // Rotated while we were stopped: finish the old file first if it is still beside us.
        if (await this.resumeRotated(cp)) {
          await handle.close();
          return true;
        }
        this.deps.logger.warn({ path: this.path }, 'checkpointed file is gone: reading the file at the path from its start');
      } else if (this.deps.startAtEnd) {
        start = await lastLineEnd(handle, Number(st.size));
      }
    }
    this.restartAt(start);
    if (start > 0) await this.primeHeaders(start);
    return true;
  }

  private adopt(handle: FileHandle, dev: string, ino: string): void {
    this.handle = handle;
    this.dev = dev;
    this.ino = ino;
  }

  private restartAt(offset: number): void {
    this.readPos = offset;
    this.committed = offset;
    this.head = undefined;
    this.splitter.reset();
    this.batcher.replaceDecoder(this.deps.newDecoder());
  }

  private async resumeRotated(cp: Checkpoint): Promise<boolean> {
    const dir = dirname(this.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return false;
    }
    for (const name of names.slice(0, MAX_ROTATED_CANDIDATES)) {
      const candidate = join(dir, name);
      if (candidate === this.path) continue;
      try {
        const st = await stat(candidate, { bigint: true });
        if (!st.isFile() || String(st.ino) !== cp.ino || String(st.dev) !== cp.dev) continue;
        const handle = await open(candidate, 'r');
        if (cp.offset > Number(st.size) || !(await this.headMatches(handle, cp))) {
          await handle.close();
          continue;
        }
        this.adopt(handle, cp.dev, cp.ino);
        this.restartAt(cp.offset);
        if (cp.offset > 0) await this.primeHeaders(cp.offset);
        this.deps.fileMetrics.rotations.inc({ ...this.labels, kind: 'found_rotated' });
        this.deps.logger.info({ path: this.path, rotated: candidate }, 'finishing the file rotated while stopped');
        return true;
      } catch {
        // vanished or unreadable: not our file
      }
    }
    return false;
  }

  private async headMatches(handle: FileHandle, cp: Checkpoint): Promise<boolean> {
    const head = await headHash(handle, cp.headLength);
    return head.length === cp.headLength && head.hash === cp.headHash;
  }

  /** Content at the start still the one we read: a copytruncate refilled past our offset is not. */
  private async sameHead(): Promise<boolean> {
    const known = this.head;
    if (!this.handle || !known || known.length === 0) return true;
    const now = await headHash(this.handle, known.length);
    return now.length === known.length && now.hash === known.hash;
  }

  /** Feed the header lines before `upTo` to the fresh decoder, discarding their output. */
  private async primeHeaders(upTo: number): Promise<void> {
    const test = this.deps.headerLine;
    if (!test || !this.handle) return;
    const splitter = new LineSplitter(this.deps.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    const lines: string[] = [];
    const scratch: FlowRecord[] = [];
    const decoder = this.batcher.currentDecoder;
    let index = 0;
    let pos = 0;
    while (pos < upTo) {
      const { bytesRead } = await this.handle.read(this.readBuffer, 0, Math.min(READ_CHUNK_BYTES, upTo - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      splitter.feed(this.readBuffer.subarray(0, bytesRead), lines);
      for (const line of lines) {
        if (test(line, index++)) {
          try {
            decoder.decodeLine(line, scratch);
          } catch {
            // counted when it was first read
          }
          scratch.length = 0;
        }
      }
      lines.length = 0;
    }
  }

  /** Read to the end of the open file, pushing each chunk's records before moving on. */
  private async drain(stopping: () => boolean): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    for (;;) {
      const { bytesRead } = await handle.read(this.readBuffer, 0, READ_CHUNK_BYTES, this.readPos);
      if (bytesRead === 0) return;
      this.readPos += bytesRead;
      this.batcher.countBytes(bytesRead);
      const chunk = this.readBuffer.subarray(0, bytesRead);
      if (this.byteMode) this.splitter.feedRanges(chunk, this.ranges);
      else this.splitter.feed(chunk, this.lines);
      await this.decodeAndPush();
      this.committed = this.readPos - this.splitter.pendingBytes;
      if (this.now() - this.lastCheckpointAt >= CHECKPOINT_INTERVAL_MS) await this.checkpoint(false);
      if (stopping()) return;
    }
  }

  /** The old file is done (rotated): its last line may lack a newline. */
  private async finishFile(): Promise<void> {
    if (this.byteMode) this.splitter.endRanges(this.ranges);
    else this.splitter.end(this.lines);
    await this.decodeAndPush();
    // Its end is covered now: a crash before the new file's first checkpoint repeats nothing.
    this.committed = this.readPos;
    await this.checkpoint(false);
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async decodeAndPush(): Promise<void> {
    const batcher = this.batcher;
    const lines = this.lines;
    batcher.countError('line_too_long', this.splitter.takeTooLong());
    const ranges = this.ranges;
    if (ranges.joined) batcher.decodeBytes(ranges.joined, 0, ranges.joined.length);
    for (let i = 0; i < ranges.count; i++) {
      batcher.decodeBytes(ranges.buf, ranges.starts[i]!, ranges.ends[i]!);
      if (batcher.full) await this.push();
    }
    ranges.clear(ranges.buf);
    for (let i = 0; i < lines.length; i++) {
      batcher.decode(lines[i]!);
      if (batcher.full) await this.push();
    }
    lines.length = 0;
    if (batcher.batch.length > 0) await this.push();
  }

  private async push(): Promise<void> {
    const batch = this.batcher.take();
    const newest = batch[batch.length - 1];
    try {
      await this.deps.out.push(batch);
    } catch (err) {
      throw new PushFailed(err);
    }
    if (newest) this.lag.set(Math.max(0, (this.now() - newest.ts) / 1000));
  }

  private async snapshot(): Promise<Checkpoint> {
    const head = this.handle ? await headHash(this.handle, HEAD_BYTES) : { hash: '', length: 0 };
    this.head = head;
    return {
      path: this.path,
      dev: this.dev,
      ino: this.ino,
      offset: this.committed,
      headHash: head.hash,
      headLength: head.length,
      updatedAt: this.now(),
    };
  }

  private async checkpoint(final: boolean): Promise<void> {
    if (!this.handle) return;
    const at = this.now();
    if (!this.written || this.written.ino !== this.ino || this.written.offset !== this.committed) {
      const cp = await this.snapshot();
      await writeCheckpoint(this.deps.stateDir, cp);
      this.written = { ino: cp.ino, offset: cp.offset };
      this.deps.fileMetrics.checkpoints.inc(this.labels);
    }
    this.lastCheckpointAt = at;
    if (this.auditedOffset !== this.committed && (final || at - this.lastAuditAt >= CHECKPOINT_AUDIT_INTERVAL_MS)) {
      this.deps.audit({ action: 'checkpoint', at, path: this.path, offset: this.committed });
      this.lastAuditAt = at;
      this.auditedOffset = this.committed;
    }
  }
}

/** Offset just after the last newline at or before `size`: a partial last line is read whole later. */
async function lastLineEnd(handle: FileHandle, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - buf.length);
    const { bytesRead } = await handle.read(buf, 0, end - start, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(10);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}
