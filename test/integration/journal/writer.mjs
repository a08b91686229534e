// Crash-test child: writes journal entries continuously from several concurrent writers through
// the BUILT journal sink and prints `ack <n>` for every entry once `write` has resolved.
// Usage: node writer.mjs STATE_DIR FIRST_N CONFIG_JSON
import process from 'node:process';
import { Registry } from 'prom-client';
import { createJournalSink } from '../../../dist/src/sinks/journal/index.js';
import { journalSchema } from '../../../dist/src/sinks/journal/config.js';
import { silentLogger } from '../../../dist/src/telemetry/logger.js';

const [stateDir, firstN, configJson] = process.argv.slice(2);
const sink = createJournalSink(journalSchema.parse(JSON.parse(configJson ?? '{}')), {
  logger: silentLogger(),
  registry: new Registry(),
  stateDir,
  onFatal: (err) => {
    process.stderr.write(`fatal: ${err.message}\n`);
    process.exit(2);
  },
  audit: () => undefined,
});

await sink.start();
process.stdout.write('ready\n');

let next = Number(firstN);
const padding = 'x'.repeat(48 * 1024);

async function writer() {
  for (;;) {
    const count = 1 + Math.floor(Math.random() * 4);
    const entries = [];
    const ns = [];
    for (let i = 0; i < count; i++) {
      const n = next++;
      ns.push(n);
      // Entries of very different sizes, so some writes are large enough to be cut mid-way.
      entries.push({ type: 'audit', event: { action: 'crash_test', at: Date.now(), n, pad: padding.slice(0, Math.floor(Math.random() ** 3 * padding.length)) } });
    }
    await sink.write(entries);
    // Pipes are written synchronously on Linux: a printed ack is in the pipe before we go on.
    process.stdout.write(ns.map((n) => `ack ${n}\n`).join(''));
  }
}

await Promise.all([writer(), writer(), writer(), writer()]);
