import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/env.js';
import { checkpointDir, checkpointPath, headHash, readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.remove());

const sample = (path: string, offset: number): Checkpoint => ({ path, dev: '1', ino: '2', offset, headHash: 'ab', headLength: 10, updatedAt: 0 });

describe('checkpoints', () => {
  it('round-trip through an atomic write, one file per path, no temporary left behind', async () => {
    dir = tempDir();
    await writeCheckpoint(dir.path, sample('/var/log/a.log', 10));
    await writeCheckpoint(dir.path, sample('/var/log/a.log', 20));
    await writeCheckpoint(dir.path, sample('/var/log/b.log', 5));
    expect(await readCheckpoint(dir.path, '/var/log/a.log')).toMatchObject({ offset: 20 });
    expect(await readCheckpoint(dir.path, '/var/log/b.log')).toMatchObject({ offset: 5 });
    expect(await readCheckpoint(dir.path, '/var/log/c.log')).toBeUndefined();
    expect(readdirSync(checkpointDir(dir.path)).sort()).toHaveLength(2);
  });

  it('ignore a torn or foreign checkpoint file', async () => {
    dir = tempDir();
    mkdirSync(checkpointDir(dir.path), { recursive: true });
    writeFileSync(checkpointPath(dir.path, '/x.log'), '{"path":"/x.log","off');
    expect(await readCheckpoint(dir.path, '/x.log')).toBeUndefined();
    writeFileSync(checkpointPath(dir.path, '/y.log'), JSON.stringify(sample('/other.log', 1)));
    expect(await readCheckpoint(dir.path, '/y.log')).toBeUndefined();
    writeFileSync(checkpointPath(dir.path, '/z.log'), JSON.stringify(sample('/z.log', -1)));
    expect(await readCheckpoint(dir.path, '/z.log')).toBeUndefined();
  });

  it('hash the head of a file, shorter when the file is', async () => {
    dir = tempDir();
    const file = join(dir.path, 'f');
    writeFileSync(file, 'x'.repeat(300));
    const h = await open(file, 'r');
    try {
      const full = await headHash(h);
      const short = await headHash(h, 10);
      expect(full.length).toBe(256);
      expect(short.length).toBe(10);
      expect(short.hash).not.toBe(full.hash);
    } finally {
      await h.close();
    }
  });
});
