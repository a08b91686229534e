import { randomUUID } from 'node:crypto';
import type { Logger } from '../../telemetry/logger.js';
import { classifyError, type Classified } from './errors.js';
import type { ClickhouseMetrics } from './metrics.js';
import type { DeadLetter, Spool, SpoolBatch, SpoolRecord } from './spool.js';

// Batching writer. Rows are serialized to JSONEachRow as they are added, into one buffer per
// table; a buffer is cut into a batch by row count, byte size or age. Each table has at most
// one insert in flight and `max_pending` cut batches waiting in memory; past that, and
// whenever the spool is not empty, batches go to the disk spool, which a single replay loop
// drains in order, one insert at a time, with backoff while ClickHouse stays unreachable.
//
// A promise returned by `add` resolves once its rows are inserted, spooled, or (rejected for
// their content) written to the dead-letter file; it rejects only when none of that happened.

/** Sends one batch; throws what the client throws. */
export interface Inserter {
  insert(table: string, body: string): Promise<void>;
}

export interface WriterOptions {
  maxRows: number;
  maxBytes: number;
  maxAgeMs: number;
  maxPending: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Tables whose rows carry the batch token in this column (replay deduplication). */
  tokenColumn?: Partial<Record<string, string>>;
}

export interface WriterDeps {
  inserter: Inserter;
  spool: Spool;
  deadLetter: DeadLetter;
  metrics: ClickhouseMetrics;
  logger: Logger;
  /** Runs before each replay attempt (e.g. apply the schema a down server could not take); throw to back off. */
  beforeReplay?: () => Promise<void>;
  now?: () => number;
  newToken?: () => string;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Batch extends SpoolBatch {
  waiters: Waiter[];
}

interface TableState {
  name: string;
  lines: string[];
  bytes: number;
  token: string;
  waiters: Waiter[];
  ageTimer: NodeJS.Timeout | undefined;
  queue: Batch[];
  inFlight: boolean;
  queuedRows: number;
}

export class BatchWriter {
  private readonly tables = new Map<string, TableState>();
  /** Set on a retriable failure; cleared once the spool is empty again. */
  private outage = false;
  private replayTimer: NodeJS.Timeout | undefined;
  private replaying = false;
  private backoffMs: number;
  private stopped = false;
  /** Spool operations run one at a time, in the order they were asked for. */
  private spoolChain: Promise<unknown> = Promise.resolve();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly now: () => number;
  private readonly newToken: () => string;

  constructor(
    private readonly options: WriterOptions,
    private readonly deps: WriterDeps,
  ) {
    this.backoffMs = options.retryMinMs;
    this.now = deps.now ?? Date.now;
    this.newToken = deps.newToken ?? randomUUID;
  }

  /** Rows waiting in memory (buffers and cut batches) over all tables. */
  get pendingRows(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.lines.length + t.queuedRows;
    return n;
  }

  get inOutage(): boolean {
    return this.outage;
  }

  /** Resume replaying what a previous run left in the spool. */
  startReplay(): void {
    if (this.deps.spool.batches > 0) this.scheduleReplay(0);
  }

  add(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error('clickhouse writer stopped'));
    const t = this.table(table);
    const tokenColumn = this.options.tokenColumn?.[table];
    // one promise per batch these rows land in
    const waits: Promise<void>[] = [];
    const join = (waiters: Waiter[]) => waits.push(new Promise<void>((resolve, reject) => waiters.push({ resolve, reject })));
    for (const row of rows) {
      if (t.lines.length === 0) t.token = this.newToken();
      if (tokenColumn) row[tokenColumn] = t.token;
      const line = JSON.stringify(row);
      t.lines.push(line);
      t.bytes += line.length + 1;
      if (t.lines.length >= this.options.maxRows || t.bytes >= this.options.maxBytes) {
        join(t.waiters);
        this.cut(t);
      }
    }
    if (t.lines.length > 0) {
      join(t.waiters);
      t.ageTimer ??= setTimeout(() => this.cut(t), this.options.maxAgeMs);
    }
    this.updatePending(t);
    return waits.length === 1 ? waits[0]! : Promise.all(waits).then(() => undefined);
  }

  /** Cut every buffer and wait until those batches are inserted or spooled. */
  async flush(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const t of this.tables.values()) {
      if (t.lines.length > 0) {
        waits.push(new Promise<void>((resolve, reject) => t.waiters.push({ resolve, reject })));
        this.cut(t);
      }
    }
    await Promise.allSettled(waits);
    await this.idle();
  }

  /** Resolves once no insert is in flight and no batch waits in memory. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    for (const t of this.tables.values()) if (t.inFlight || t.queue.length > 0) return false;
    return true;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
    if (this.replayTimer) clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
    await this.spoolChain.catch(() => undefined);
    while (this.replaying) await new Promise((r) => setTimeout(r, 10));
  }

  private table(name: string): TableState {
    let t = this.tables.get(name);
    if (!t) {
      t = { name, lines: [], bytes: 0, token: '', waiters: [], ageTimer: undefined, queue: [], inFlight: false, queuedRows: 0 };
      this.tables.set(name, t);
    }
    return t;
  }

  private cut(t: TableState): void {
    if (t.ageTimer) clearTimeout(t.ageTimer);
    t.ageTimer = undefined;
    if (t.lines.length === 0) return;
    const batch: Batch = { table: t.name, token: t.token, rows: t.lines.length, body: t.lines.join('\n') + '\n', waiters: t.waiters };
    t.lines = [];
    t.bytes = 0;
    t.waiters = [];
    this.deps.metrics.batchRows.observe({ table: t.name }, batch.rows);
    if (this.outage || this.deps.spool.batches > 0 || this.replaying || t.queue.length >= this.options.maxPending) {
      void this.toSpool(batch);
    } else {
      t.queue.push(batch);
      t.queuedRows += batch.rows;
      void this.pump(t);
    }
    this.updatePending(t);
  }

  private async pump(t: TableState): Promise<void> {
    if (t.inFlight) return;
    t.inFlight = true;
    try {
      for (let batch = t.queue[0]; batch !== undefined; batch = t.queue[0]) {
        if (this.outage) {
          // an insert elsewhere failed: keep order by spooling the rest of the queue
          t.queue.shift();
          t.queuedRows -= batch.rows;
          await this.toSpool(batch);
          continue;
        }
        const result = await this.send(batch);
        t.queue.shift();
        t.queuedRows -= batch.rows;
        if (result === 'ok') {
          settle(batch.waiters);
        } else if (result.kind === 'permanent') {
          await this.toDeadLetter(batch, result);
        } else {
          this.enterOutage(result);
          await this.toSpool(batch);
        }
        this.updatePending(t);
      }
    } finally {
      t.inFlight = false;
      this.updatePending(t);
      this.notifyIdle();
    }
  }

  private async send(batch: SpoolBatch): Promise<'ok' | (Classified & { message: string })> {
    const started = this.now();
    try {
      await this.deps.inserter.insert(batch.table, batch.body);
      this.deps.metrics.inserts.inc({ table: batch.table, result: 'ok' });
      this.deps.metrics.rows.inc({ table: batch.table, result: 'inserted' }, batch.rows);
      this.deps.metrics.insertSeconds.observe({ table: batch.table }, (this.now() - started) / 1000);
      return 'ok';
    } catch (err) {
      const c = classifyError(err);
      this.deps.metrics.inserts.inc({ table: batch.table, result: c.kind });
      this.deps.metrics.errors.inc({ table: batch.table, reason: c.reason });
      return { ...c, message: (err as Error)?.message ?? String(err) };
    }
  }

  private enterOutage(c: Classified & { message: string }): void {
    if (!this.outage) {
      this.deps.logger.warn({ reason: c.reason, serverCode: c.serverCode, err: { message: c.message.slice(0, 500) } }, 'clickhouse unavailable: spooling batches to disk');
    }
    this.outage = true;
    this.deps.metrics.outage.set(1);
    this.scheduleReplay(this.backoffMs);
  }

  private toSpool(batch: Batch): Promise<void> {
    const op = this.spoolChain.then(async () => {
      try {
        await this.deps.spool.append(batch);
        this.deps.metrics.rows.inc({ table: batch.table, result: 'spooled' }, batch.rows);
        settle(batch.waiters);
      } catch (err) {
        this.deps.logger.error({ err, table: batch.table }, 'clickhouse spool write failed');
        settle(batch.waiters, err as Error);
      }
    });
    this.spoolChain = op;
    if (!this.stopped) this.scheduleReplay(this.outage ? this.backoffMs : 0);
    return op;
  }

  private async toDeadLetter(batch: SpoolBatch & { waiters?: Waiter[] }, c: Classified & { message: string }): Promise<void> {
    this.deps.logger.error(
      { table: batch.table, rows: batch.rows, serverCode: c.serverCode, err: { message: c.message.slice(0, 500) } },
      'clickhouse rejected a batch: written to the dead-letter file',
    );
    try {
      await this.deps.deadLetter.write(batch, c.message, this.now());
      this.deps.metrics.rows.inc({ table: batch.table, result: 'dead_letter' }, batch.rows);
      if (batch.waiters) settle(batch.waiters);
    } catch (err) {
      if (batch.waiters) settle(batch.waiters, err as Error);
      else throw err;
    }
  }

  private scheduleReplay(delayMs: number): void {
    if (this.stopped || this.replaying) return;
    if (this.replayTimer) {
      if (delayMs > 0) return;
      clearTimeout(this.replayTimer);
    }
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      void this.replay();
    }, delayMs);
  }

  /** Drain the spool oldest first, one insert at a time; back off on retriable errors. */
  private async replay(): Promise<void> {
    if (this.replaying || this.stopped) return;
    this.replaying = true;
    let retryIn: number | undefined;
    try {
      await this.spoolChain.catch(() => undefined);
      if (this.deps.beforeReplay) await this.deps.beforeReplay();
      for (;;) {
        if (this.stopped) break;
        const run = await this.deps.spool.oldestRun(this.options.maxBytes, this.options.maxRows);
        if (run.length === 0) break;
        const outcome = await this.replayRun(run);
        if (outcome === 'retry') {
          this.enterOutageQuietly();
          retryIn = this.backoffMs;
          break;
        }
        this.backoffMs = this.options.retryMinMs;
      }
    } catch (err) {
      this.enterOutageQuietly();
      this.deps.logger.debug({ err }, 'clickhouse replay not possible yet');
      retryIn = this.backoffMs;
    } finally {
      this.replaying = false;
    }
    if (retryIn !== undefined) {
      this.backoffMs = Math.min(this.options.retryMaxMs, this.backoffMs * 2);
      this.scheduleReplay(retryIn);
      return;
    }
    await this.spoolChain.catch(() => undefined);
    if (this.deps.spool.batches > 0) {
      this.scheduleReplay(0);
      return;
    }
    if (this.outage) this.deps.logger.info('clickhouse reachable again: spool replayed');
    this.outage = false;
    this.deps.metrics.outage.set(0);
    this.notifyIdle();
  }

  /**
   * Insert consecutive spooled batches of one table as one request. If the server rejects the
   * combined content, each batch is tried alone so only the bad one is dead-lettered.
   */
  private async replayRun(run: readonly SpoolRecord[]): Promise<'done' | 'retry'> {
    const first = run[0]!;
    const combined: SpoolBatch =
      run.length === 1 ? first : { table: first.table, token: first.token, rows: run.reduce((n, r) => n + r.rows, 0), body: run.map((r) => r.body).join('') };
    const result = await this.send(combined);
    if (result === 'ok') {
      this.deps.metrics.rows.inc({ table: first.table, result: 'replayed' }, combined.rows);
      for (const r of run) await this.deps.spool.remove(r.seq);
      return 'done';
    }
    if (result.kind === 'retriable') return 'retry';
    if (run.length > 1) {
      for (const r of run) if ((await this.replayRun([r])) === 'retry') return 'retry';
      return 'done';
    }
    await this.toDeadLetter(first, result);
    await this.deps.spool.remove(first.seq);
    return 'done';
  }

  private enterOutageQuietly(): void {
    this.outage = true;
    this.deps.metrics.outage.set(1);
  }

  private updatePending(t: TableState): void {
    this.deps.metrics.pendingRows.set({ table: t.name }, t.lines.length + t.queuedRows);
  }
}

function settle(waiters: readonly Waiter[], err?: Error): void {
  for (const w of waiters) {
    if (err) w.reject(err);
    else w.resolve();
  }
}
