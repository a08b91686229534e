import { mkdir, open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommonDeps } from '../../daemon/component.js';
import { EgressdError, FatalError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Sink, SinkEntry } from '../types.js';
import type { JournalConfig } from './config.js';
import { JOURNAL_DIR, encodeEntry, journalFileName } from './format.js';
import { journalMetrics, type JournalErrorReason, type JournalMetrics } from './metrics.js';
import { locateHead } from './reader.js';

export { verifyJournal, readJournal, describeBroken } from './reader.js';
export type { VerifyResult, BrokenEntry } from './reader.js';
export type { JournalEntry, BreakReason } from './format.js';
export { GENESIS_HASH, journalFileName } from './format.js';

/** The journal sink, plus where its chain stands (for `checkpoint` audit events and tests). */
export interface JournalSink extends Sink {
  /** The last entry handed a seq (written or still waiting for its fsync). */
  readonly head: { seq: number; hash: string };
  /** Every entry up to this seq is fsync'd (with `deferSync`: written, fsync'd at the next flush or stop). */
  readonly durableSeq: number;
}

interface Queued {
  line: Buffer;
  seq: number;
  type: SinkEntry['type'];
}

interface Waiter {
  through: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

type State = 'new' | 'starting' | 'open' | 'failed' | 'stopped';

export interface JournalSinkOptions {
  /**
   * For `replay`, whose input can be read again: a write is acknowledged once queued (seq and hash
   * handed out, in order), entries are written `fsync_batch` at a time and on `flush`/`stop`, and
   * fsync'd once at the end (and before a rotation). The pipeline never waits for the disk; a write
   * failure fails the next write and the stop, and the whole journal is on disk when the replay ends.
   */
  deferSync?: boolean;
}

export function createJournalSink(config: JournalConfig, deps: CommonDeps, options: JournalSinkOptions = {}): JournalSink {
  return new JournalSinkImpl(config, deps, options);
}

class JournalSinkImpl implements JournalSink {
  readonly name = 'journal';
  private readonly metrics: JournalMetrics;
  private readonly logger: Logger;
  private state: State = 'new';
  private failure: Error | undefined;
  private dir = '';
  private handle: FileHandle | undefined;
  private fileIndex = 0;
  /** Bytes in the current file, including those written but not yet fsync'd. */
  private fileSize = 0;
  private seq = 0;
  private hash = '';
  private durable = 0;
  private queue: Queued[] = [];
  private queuedSince = 0;
  private waiters: Waiter[] = [];
  private committing = false;
  private forceCommit = false;
  private cancelScheduled: (() => void) | undefined;
  private commitDone: Promise<void> = Promise.resolve();
  private lockPath: string | undefined;
  /** The current file has writes not yet fsync'd (deferSync only). */
  private unsynced = false;

  constructor(
    private readonly config: JournalConfig,
    private readonly deps: CommonDeps,
    private readonly options: JournalSinkOptions = {},
  ) {
    this.metrics = journalMetrics(deps.registry);
    this.logger = deps.logger;
  }

  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.hash };
  }

  get durableSeq(): number {
    return this.durable;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new EgressdError('USAGE', `journal: start() called while ${this.state}`);
    this.state = 'starting';
    try {
      await mkdir(join(this.deps.stateDir, JOURNAL_DIR), { recursive: true });
      this.lockPath = await acquireLock(join(this.deps.stateDir, JOURNAL_DIR, LOCK_FILE));
      const head = await locateHead(this.deps.stateDir).catch((err: unknown) => {
        this.countError('broken');
        throw err;
      });
      this.dir = head.dir;
      this.seq = head.seq;
      this.hash = head.hash;
      this.durable = head.seq;
      this.fileSize = head.fileSize;
      if (head.torn) {
        // A write cut by a crash: never acknowledged, so cutting it loses nothing that was promised.
        const torn = await open(join(head.dir, head.fileName), 'r+');
        try {
          await torn.truncate(head.torn.offset);
          await torn.sync();
        } finally {
          await torn.close();
        }
        this.metrics.recoveredBytes.inc(head.torn.bytes);
        this.logger.warn({ file: head.torn.file, line: head.torn.line, dropped_bytes: head.torn.bytes }, 'journal: cut a torn last line left by a crash');
      }
      if (head.fileName === '') {
        this.fileIndex = 1;
        this.handle = await this.createFile(this.fileIndex);
      } else {
        this.fileIndex = head.fileIndex;
        this.handle = await open(join(head.dir, head.fileName), 'a');
      }
      this.state = 'open';
      this.logger.info({ file: journalFileName(this.fileIndex), seq: this.seq }, 'journal open');
      if (head.torn) {
        await this.write([
          {
            type: 'audit',
            event: {
              action: 'journal_recovered',
              at: Date.now(),
              file: head.torn.file,
              line: head.torn.line,
              seq: head.torn.seq,
              dropped_bytes: head.torn.bytes,
            },
          },
        ]);
      }
    } catch (err) {
      if (this.state === 'starting') this.state = 'failed';
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
      await this.releaseLock();
      throw err;
    }
  }

  write(entries: readonly SinkEntry[]): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.notOpen());
    if (entries.length === 0) return Promise.resolve();
    // Seq and hash are handed out now, in call order, so the chain order is the order of writes.
    const at = new Date().toISOString();
    const encoded: Queued[] = [];
    let seq = this.seq;
    let hash = this.hash;
    try {
      for (const entry of entries) {
        seq++;
        const e = encodeEntry(entry, seq, at, hash);
        hash = e.hash;
        encoded.push({ line: e.line, seq, type: entry.type });
      }
    } catch (err) {
      this.countError('encode');
      return Promise.reject(new EgressdError('USAGE', 'journal: entry cannot be serialised', { cause: err }));
    }
    this.seq = seq;
    this.hash = hash;
    if (this.queue.length === 0) this.queuedSince = Date.now();
    for (const q of encoded) this.queue.push(q);
    this.metrics.pending.inc(encoded.length);
    if (this.options.deferSync) {
      this.schedule();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ through: seq, resolve, reject });
      this.schedule();
    });
  }

  async flush(): Promise<void> {
    if (this.state === 'failed') throw this.notOpen();
    if (this.durable < this.seq) {
      await new Promise<void>((resolve, reject) => {
        this.waiters.push({ through: this.seq, resolve, reject });
        this.forceCommit = true;
        this.schedule();
      });
    }
    if (this.unsynced) await this.syncDeferred();
  }

  /** The one fsync of deferSync mode; a failure is fatal as for any commit. */
  private async syncDeferred(): Promise<void> {
    this.unsynced = false;
    try {
      await this.sync();
    } catch (err) {
      this.fail(err, 0);
      throw this.notOpen();
    }
  }

  private async sync(): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      await this.handle!.datasync();
    } catch (err) {
      throw tagged(err, 'fsync');
    }
    this.metrics.fsyncSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.metrics.fsyncs.inc();
  }

  async stop(): Promise<void> {
    if (this.state === 'open') {
      await this.flush().catch(() => undefined);
      this.state = 'stopped';
    } else if (this.state !== 'failed') {
      this.state = 'stopped';
    }
    this.cancelScheduled?.();
    this.cancelScheduled = undefined;
    await this.commitDone;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await this.releaseLock();
  }

  private async releaseLock(): Promise<void> {
    if (!this.lockPath) return;
    await unlink(this.lockPath).catch(() => undefined);
    this.lockPath = undefined;
  }

  private notOpen(): Error {
    if (this.failure) return this.failure;
    return new EgressdError('SHUTDOWN', `journal is ${this.state === 'new' ? 'not started' : this.state}`);
  }

  /** Arrange the next commit: now, or when the oldest waiting entry has waited `fsync_interval`. */
  private schedule(): void {
    if (this.committing || this.queue.length === 0 || this.state === 'failed') return;
    const now = this.forceCommit || this.queue.length >= this.config.fsync_batch;
    // Deferred: a batch at a time, the rest on flush.
    if (this.options.deferSync && !now) return;
    const delay = now ? 0 : Math.max(0, this.queuedSince + this.config.fsync_interval - Date.now());
    if (this.cancelScheduled && !now) return;
    this.cancelScheduled?.();
    if (delay === 0) {
      // setImmediate: every write made in this turn of the event loop joins the commit.
      const timer = setImmediate(() => this.commit());
      this.cancelScheduled = () => clearImmediate(timer);
    } else {
      const timer = setTimeout(() => this.commit(), delay);
      this.cancelScheduled = () => clearTimeout(timer);
    }
  }

  private commit(): void {
    this.cancelScheduled = undefined;
    if (this.committing || this.state === 'failed') return;
    this.committing = true;
    this.forceCommit = false;
    this.commitDone = this.commitLoop().finally(() => {
      this.committing = false;
      this.schedule();
    });
  }

  /** Group commit: one write and one fdatasync for everything queued; repeat while entries wait. */
  private async commitLoop(): Promise<void> {
    while (this.queue.length > 0 && this.state !== 'failed') {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.append(batch);
      } catch (err) {
        this.fail(err, batch.length);
        return;
      }
      const last = batch[batch.length - 1]!;
      this.durable = last.seq;
      this.metrics.pending.dec(batch.length);
      let incidents = 0;
      for (const q of batch) if (q.type === 'incident') incidents++;
      if (incidents > 0) this.metrics.entries.inc({ type: 'incident' }, incidents);
      if (batch.length > incidents) this.metrics.entries.inc({ type: 'audit' }, batch.length - incidents);
      let done = 0;
      while (done < this.waiters.length && this.waiters[done]!.through <= this.durable) done++;
      for (const w of this.waiters.splice(0, done)) w.resolve();
      // With a gathering window, entries that arrived during this fsync wait their turn.
      if (this.config.fsync_interval > 0 && !this.forceCommit && this.queue.length < this.config.fsync_batch) return;
      this.forceCommit = false;
    }
  }

  /** Write a batch, rotating between entries when a file would grow past `rotate_size`. */
  private async append(batch: readonly Queued[]): Promise<void> {
    let chunk: Buffer[] = [];
    let chunkBytes = 0;
    for (const q of batch) {
      const size = this.fileSize + chunkBytes;
      if (size > 0 && size + q.line.length > this.config.rotate_size) {
        if (chunk.length > 0) await this.appendAndSync(chunk, chunkBytes);
        chunk = [];
        chunkBytes = 0;
        await this.rotate();
      }
      chunk.push(q.line);
      chunkBytes += q.line.length;
    }
    if (chunk.length > 0) await this.appendAndSync(chunk, chunkBytes);
  }

  private async appendAndSync(lines: readonly Buffer[], total: number): Promise<void> {
    const handle = this.handle!;
    const data = lines.length === 1 ? lines[0]! : Buffer.concat(lines, total);
    let written = 0;
    try {
      while (written < total) {
        const { bytesWritten } = await handle.write(data, written, total - written, null);
        written += bytesWritten;
      }
    } catch (err) {
      throw tagged(err, 'write');
    }
    this.fileSize += total;
    if (this.options.deferSync) this.unsynced = true;
    else await this.sync();
    this.metrics.bytes.inc(total);
  }

  private async rotate(): Promise<void> {
    if (this.unsynced) {
      this.unsynced = false;
      await this.sync();
    }
    try {
      await this.handle!.close();
      this.handle = undefined;
      this.fileIndex++;
      this.handle = await this.createFile(this.fileIndex);
      this.fileSize = 0;
    } catch (err) {
      throw tagged(err, 'rotate');
    }
    this.metrics.rotations.inc();
    this.logger.info({ file: journalFileName(this.fileIndex), seq: this.durable }, 'journal rotated');
  }

  /** A new, empty journal file whose name is durable before anything is written to it. */
  private async createFile(index: number): Promise<FileHandle> {
    const handle = await open(join(this.dir, journalFileName(index)), 'ax');
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return handle;
  }

  /** The journal cannot be written: reject everything waiting and stop the daemon. */
  private fail(err: unknown, batchLength: number): void {
    const reason = (err as { journalReason?: JournalErrorReason }).journalReason ?? 'write';
    this.countError(reason);
    const cause = err instanceof Error ? err : new Error(String(err));
    const fatal = new FatalError('JOURNAL_WRITE', `journal ${reason} failed: ${cause.message}`, { cause });
    this.failure = fatal;
    this.state = 'failed';
    this.metrics.pending.dec(batchLength + this.queue.length);
    this.queue = [];
    this.cancelScheduled?.();
    this.cancelScheduled = undefined;
    for (const w of this.waiters.splice(0)) w.reject(fatal);
    this.logger.error({ err: cause, reason, durable_seq: this.durable }, 'journal cannot be written');
    this.deps.onFatal(fatal);
  }

  private countError(reason: JournalErrorReason): void {
    this.metrics.errors.inc({ reason });
  }
}

/** Holds the journal for one writer: two appenders would interleave and break the chain. */
const LOCK_FILE = 'writer.lock';

async function acquireLock(path: string): Promise<string> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
      throw new EgressdError('IO', `journal is in use by process ${holder} (${path}); one writer per state directory`);
    }
    // Left behind by a writer that died: take it over.
    await unlink(path).catch(() => undefined);
  }
  throw new EgressdError('IO', `journal lock ${path} could not be taken`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tagged(err: unknown, reason: JournalErrorReason): unknown {
  if (typeof err === 'object' && err !== null) (err as { journalReason?: JournalErrorReason }).journalReason = reason;
  return err;
}
