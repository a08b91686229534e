import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** How far a tailed file has been read, and how to recognise that file again. */
export interface Checkpoint {
  path: string;
  dev: string;
  ino: string;
  /** Byte offset just after the last line whose records were pushed. */
  offset: number;
  /** SHA-256 (hex) of the first `headLength` bytes: same inode number but other content = new file. */
  headHash: string;
  headLength: number;
  /** Wall clock of the write, epoch ms. */
  updatedAt: number;
}

/** Bytes at the start of a file used to recognise it. */
export const HEAD_BYTES = 256;

export function checkpointDir(stateDir: string): string {
  return join(stateDir, 'checkpoints');
}

export function checkpointPath(stateDir: string, filePath: string): string {
  const name = createHash('sha256').update(filePath).digest('hex').slice(0, 32);
  return join(checkpointDir(stateDir), `${name}.json`);
}

export async function readCheckpoint(stateDir: string, filePath: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(checkpointPath(stateDir, filePath), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const cp = JSON.parse(text) as Partial<Checkpoint>;
    if (
      cp.path !== filePath ||
      typeof cp.dev !== 'string' ||
      typeof cp.ino !== 'string' ||
      typeof cp.offset !== 'number' ||
      !Number.isSafeInteger(cp.offset) ||
      cp.offset < 0 ||
      typeof cp.headHash !== 'string' ||
      typeof cp.headLength !== 'number'
    ) {
      return undefined;
    }
    return cp as Checkpoint;
  } catch {
    // A torn or hand-edited file: start as if there were none (the caller logs it).
    return undefined;
  }
}

/** Write atomically: a temporary file, fsync, then rename over the old one. */
export async function writeCheckpoint(stateDir: string, cp: Checkpoint): Promise<void> {
  const target = checkpointPath(stateDir, cp.path);
  await mkdir(checkpointDir(stateDir), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(cp) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, target);
}

/** Hash of the first `length` bytes of an open file (fewer if the file is shorter). */
export async function headHash(handle: FileHandle, length = HEAD_BYTES): Promise<{ hash: string; length: number }> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return { hash: createHash('sha256').update(buf.subarray(0, got)).digest('hex'), length: got };
}
