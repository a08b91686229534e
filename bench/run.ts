// Runs every benchmark in bench/ one after the other (never in parallel: figures must not
// compete for the 2 cores) and prints their figures. `npm run bench [-- name...]`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith('.js') && !['run.js', 'harness.js'].includes(f))
  .map((f) => basename(f, '.js'))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();

let failed = 0;
for (const name of benches) {
  process.stdout.write(`== bench ${name}\n`);
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, `${name}.js`)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    process.stdout.write(`== bench ${name} failed (exit ${result.status})\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
