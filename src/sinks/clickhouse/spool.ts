import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

// The outage spool: while ClickHouse is unreachable, cut batches are written here and replayed
// in order (by sequence number) once it answers again.
//
// Layout: <stateDir>/clickhouse-spool/<seq, 16 digits>.<table>.batch, one batch per file:
//   line 1  header JSON {v, seq, table, token, rows, bytes, sha256, created}
//   then    exactly `bytes` bytes of JSONEachRow payload, as it will be inserted.
// A file is written to `.tmp`, fsync'd, then renamed, so a crash leaves either a whole record
// or a `.tmp` that the next start deletes. The SHA-256 of the payload is checked on replay; a
// record that fails it (or whose header does not parse) is counted and moved to `corrupt/`.
//
// Bound: `max_bytes`. When a new batch would exceed it, the OLDEST batches are dropped first
// (counted, logged): the journal remains the complete audit trail, and recent data is what an
// operator looks at after an outage. The batch being appended is always kept.

export interface SpoolBatch {
  table: string;
  /** Unique per cut batch; also stored in the rows that need it for replay deduplication. */
  token: string;
  rows: number;
  /** JSONEachRow payload. */
  body: string;
}

export interface SpoolRecord extends SpoolBatch {
  seq: number;
  created: number;
}

export interface SpoolEvents {
  /** A record failed its checksum or could not be parsed. */
  corrupt(file: string, reason: string): void;
  /** Oldest batches dropped to stay under the bound. */
  dropped(batches: number, rows: number, bytes: number): void;
  /** Size changed. */
  size(bytes: number, batches: number): void;
}

interface Entry {
  seq: number;
  table: string;
  size: number;
  rows: number;
}

const SUFFIX = '.batch';
const FORMAT_VERSION = 1;

/** `<seq, 16 digits>.<table>.batch`: the table in the name lets replay group without reading. */
function fileName(seq: number, table: string): string {
  return `${String(seq).padStart(16, '0')}.${table}${SUFFIX}`;
}

function parseFileName(name: string): { seq: number; table: string } | undefined {
  const m = /^(\d{16})\.([A-Za-z0-9_]+)\.batch$/.exec(name);
  return m ? { seq: Number(m[1]), table: m[2]! } : undefined;
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Serialize one batch as a spool record (exported for tests of the format). */
export function encodeRecord(seq: number, batch: SpoolBatch, created: number): Buffer {
  const payload = Buffer.from(batch.body, 'utf8');
  const header = JSON.stringify({
    v: FORMAT_VERSION,
    seq,
    table: batch.table,
    token: batch.token,
    rows: batch.rows,
    bytes: payload.length,
    sha256: sha256(payload),
    created,
  });
  return Buffer.concat([Buffer.from(header + '\n', 'utf8'), payload]);
}

/** Parse and verify a spool record; throws with a reason when it is damaged. */
export function decodeRecord(data: Buffer): SpoolRecord {
  const nl = data.indexOf(0x0a);
  if (nl < 0) throw new Error('no header');
  let header: { v?: unknown; seq?: unknown; table?: unknown; token?: unknown; rows?: unknown; bytes?: unknown; sha256?: unknown; created?: unknown };
  try {
    header = JSON.parse(data.subarray(0, nl).toString('utf8')) as typeof header;
  } catch {
    throw new Error('bad header');
  }
  if (header.v !== FORMAT_VERSION) throw new Error('unknown version');
  if (typeof header.table !== 'string' || typeof header.token !== 'string' || typeof header.seq !== 'number') throw new Error('bad header');
  const payload = data.subarray(nl + 1);
  if (payload.length !== header.bytes) throw new Error('length mismatch');
  if (sha256(payload) !== header.sha256) throw new Error('checksum mismatch');
  return {
    seq: header.seq,
    table: header.table,
    token: header.token,
    rows: typeof header.rows === 'number' ? header.rows : 0,
    body: payload.toString('utf8'),
    created: typeof header.created === 'number' ? header.created : 0,
  };
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  } finally {
    await handle.close();
  }
}

export class Spool {
  private readonly entries: Entry[] = [];
  private head = 0;
  private totalBytes = 0;
  private nextSeq = 1;
  private opened = false;

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly events: SpoolEvents,
    private readonly now: () => number = Date.now,
  ) {}

  get bytes(): number {
    return this.totalBytes;
  }

  get batches(): number {
    return this.entries.length - this.head;
  }

  get rows(): number {
    let n = 0;
    for (let i = this.head; i < this.entries.length; i++) n += this.entries[i]!.rows;
    return n;
  }

  /** Create the directory, delete half-written files, and index what a previous run left. */
  async open(): Promise<void> {
    if (this.opened) return;
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).sort();
    for (const name of names) {
      if (name.endsWith('.tmp')) {
        await unlink(join(this.dir, name)).catch(() => undefined);
        continue;
      }
      const parsed = parseFileName(name);
      if (!parsed) continue;
      const { seq, table } = parsed;
      const info = await stat(join(this.dir, name));
      this.entries.push({ seq, table, size: info.size, rows: 0 });
      this.totalBytes += info.size;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
    this.opened = true;
    this.events.size(this.totalBytes, this.batches);
  }

  /** Durably store a batch (resolves after fsync), dropping the oldest batches past the bound. */
  async append(batch: SpoolBatch): Promise<number> {
    const seq = this.nextSeq++;
    const data = encodeRecord(seq, batch, this.now());
    await this.makeRoom(data.length);
    const name = fileName(seq, batch.table);
    const tmp = join(this.dir, `${name}.tmp`);
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, join(this.dir, name));
    await fsyncDir(this.dir);
    this.entries.push({ seq, table: batch.table, size: data.length, rows: batch.rows });
    this.totalBytes += data.length;
    this.events.size(this.totalBytes, this.batches);
    return seq;
  }

  private async makeRoom(incoming: number): Promise<void> {
    let batches = 0;
    let rows = 0;
    let bytes = 0;
    while (this.batches > 0 && this.totalBytes + incoming > this.maxBytes) {
      const oldest = this.entries[this.head]!;
      await this.removeEntry(oldest);
      batches += 1;
      rows += oldest.rows;
      bytes += oldest.size;
    }
    if (batches > 0) this.events.dropped(batches, rows, bytes);
  }

  /**
   * The oldest intact record, or undefined when the spool is empty. Damaged records on the way
   * are counted and moved to `corrupt/`.
   */
  async oldest(): Promise<SpoolRecord | undefined> {
    while (this.batches > 0) {
      const entry = this.entries[this.head]!;
      const path = join(this.dir, fileName(entry.seq, entry.table));
      let data: Buffer;
      try {
        data = await readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          this.forget(entry);
          continue;
        }
        throw err;
      }
      try {
        const record = decodeRecord(data);
        entry.rows = record.rows;
        return { ...record, seq: entry.seq };
      } catch (err) {
        await this.quarantine(entry, (err as Error).message);
      }
    }
    return undefined;
  }

  /**
   * The oldest record plus later records of the same table, within the limits: replay inserts
   * them together (each row keeps its batch token, so deduplication holds). Order within a
   * table is kept; tables do not depend on each other.
   */
  async oldestRun(maxBytes: number, maxRows: number, scanLimit = 1000): Promise<SpoolRecord[]> {
    const first = await this.oldest();
    if (!first) return [];
    const run = [first];
    let bytes = first.body.length;
    let rows = first.rows;
    const end = Math.min(this.entries.length, this.head + scanLimit);
    for (let i = this.head + 1; i < end; i++) {
      const entry = this.entries[i]!;
      if (entry.table !== first.table) continue;
      if (bytes + entry.size > maxBytes) break;
      let record: SpoolRecord;
      try {
        record = { ...decodeRecord(await readFile(join(this.dir, fileName(entry.seq, entry.table)))), seq: entry.seq };
      } catch {
        break; // damaged or gone: handled when it becomes the oldest
      }
      if (rows + record.rows > maxRows) break;
      entry.rows = record.rows;
      run.push(record);
      bytes += record.body.length;
      rows += record.rows;
    }
    return run;
  }

  /** Delete a record once its batch is confirmed in ClickHouse (or dead-lettered). */
  async remove(seq: number): Promise<void> {
    const entry = this.find(seq);
    if (entry) await this.removeEntry(entry);
    this.events.size(this.totalBytes, this.batches);
  }

  private async removeEntry(entry: Entry): Promise<void> {
    await unlink(join(this.dir, fileName(entry.seq, entry.table))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    this.forget(entry);
  }

  private find(seq: number): Entry | undefined {
    for (let i = this.head; i < this.entries.length; i++) if (this.entries[i]!.seq === seq) return this.entries[i];
    return undefined;
  }

  private forget(entry: Entry): void {
    const idx = this.entries.indexOf(entry, this.head);
    if (idx < 0) return;
    this.totalBytes -= this.entries[idx]!.size;
    if (idx === this.head) {
      this.head += 1;
    } else {
      this.entries.splice(idx, 1);
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  private async quarantine(entry: Entry, reason: string): Promise<void> {
    const name = fileName(entry.seq, entry.table);
    const corruptDir = join(this.dir, 'corrupt');
    await mkdir(corruptDir, { recursive: true });
    await rename(join(this.dir, name), join(corruptDir, name)).catch(() => unlink(join(this.dir, name)).catch(() => undefined));
    this.forget(entry);
    this.events.corrupt(name, reason);
    this.events.size(this.totalBytes, this.batches);
  }
}

/**
 * Batches ClickHouse rejected for their content: one JSON line per row with the table, batch
 * token and error, appended to <stateDir>/clickhouse-dead-letter/<table>.ndjson.
 */
export class DeadLetter {
  constructor(readonly dir: string) {}

  async write(batch: SpoolBatch, error: string, at: number): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const prefix = `{"at":${at},"table":${JSON.stringify(batch.table)},"token":${JSON.stringify(batch.token)},"error":${JSON.stringify(error.slice(0, 2000))},"row":`;
    const lines = batch.body
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => `${prefix}${line}}\n`)
      .join('');
    await appendFile(join(this.dir, `${batch.table}.ndjson`), lines);
  }
}
