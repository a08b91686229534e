#!/usr/bin/env node
// Build the installed `egressd` program into dist/bin/ (run by `npm run build`, after tsc):
//   egressd              the command (package.json `bin`, a shell script): runs egressd.cjs on the
//                        Node.js runtime installed with egressd (package.json optionalDependencies),
//                        or on the `node` found on PATH where there is none (another platform)
//   egressd.cjs          the launcher: runs one of the two bundles below with its V8 code cache
//   cli.cjs              the whole CLI in one file, dependencies included (src/cli/main.ts)
//   cli-brief.cjs        the same without what its commands import when they run: enough for the
//                        commands that load no config (`version`, `--help`, usage errors)
//   <bundle>.cache       V8 code cache of a bundle, written by a first run (`check`, and `version`);
//   cli.cjs.no-turbofan.cache  replay's (the command runs it with that V8 flag), from a small capture
//   pcap-worker.cjs      the capture replay worker thread (src/sources/pcap/worker.ts)
//   clickhouse-client.cjs  @clickhouse/client, loaded only when ClickHouse is configured
// One file starts about twice as fast as the tsc build's hundreds of modules; the code cache
// saves compiling it at each start. A bundle is a CommonJS module body in a function expression
// that the launcher calls.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bin');
const command = join(outdir, 'egressd');
const launcher = join(outdir, 'egressd.cjs');
const bundle = join(outdir, 'cli.cjs');
const briefBundle = join(outdir, 'cli-brief.cjs');
const codeCache = `${bundle}.cache`;
const replayCodeCache = `${bundle}.no-turbofan.cache`;
const briefCodeCache = `${briefBundle}.cache`;
const worker = join(outdir, 'pcap-worker.cjs');
const clickhouseClient = join(outdir, 'clickhouse-client.cjs');
// A small capture in the repository: the first run compiles the replay path into the cache.
const warmUpInput = join(root, 'src', 'decode', 'netflow', 'testdata', 'softflowd-bittorrent-v10.pcap');

/**
 * Library parts the CLI never uses, left out of the bundle or loaded only when used: reading them
 * and the Node built-ins they load cost every start. Each entry gives the file's new text from its
 * text; the build fails when a file is not found or an edit no longer applies (the library changed).
 */
const stub = (text) => () => text;
const LIBRARY_EDITS = [
  // egressd is scraped, it never pushes: no https, tls and zlib at start.
  { file: 'node_modules/prom-client/lib/pushgateway.js', edit: stub('module.exports = class Pushgateway { constructor() { throw new Error("Pushgateway: not in the egressd CLI bundle"); } };') },
  // egressd runs no cluster of workers whose metrics to aggregate (and cluster loads child_process).
  { file: 'node_modules/prom-client/lib/cluster.js', edit: stub('module.exports = class AggregatorRegistry { constructor() { throw new Error("AggregatorRegistry: not in the egressd CLI bundle"); } };') },
  // Logs go to a file descriptor (pino.destination), never through a transport's worker thread.
  { file: 'node_modules/pino/lib/transport.js', edit: stub('module.exports = function transport() { throw new Error("pino transports: not in the egressd CLI bundle"); };') },
  // pino asks worker_threads whether it runs on the main thread; in the CLI bundle it always does
  // (the capture worker forwards its logs to it): worker_threads is not loaded for that (8 ms).
  {
    file: 'node_modules/pino/lib/tools.js',
    edit: (text) => text.replace("const { isMainThread } = require('worker_threads')", 'const isMainThread = true'),
  },
  // prom-client asks OpenTelemetry for the current span only for exemplars, which egressd never
  // enables; no OpenTelemetry SDK is ever registered, and these are the API's answers without one.
  { file: 'node_modules/@opentelemetry/api/dist/index.cjs', edit: stub('module.exports = { trace: { getSpan: () => undefined }, context: { active: () => undefined } };') },
  // zod's messages in English only (its default); the other languages are a third of the bundle.
  { file: 'node_modules/zod/v4/locales/index.js', edit: stub('export { default as en } from "./en.js";') },
  // Nothing in egressd builds a schema from JSON Schema.
  { file: 'node_modules/zod/v4/classic/from-json-schema.js', edit: stub('export function fromJSONSchema() { throw new Error("zod fromJSONSchema: not in the egressd CLI bundle"); }') },
  // The default process metrics (with perf_hooks, v8 and a dozen modules) are for `run` only.
  {
    file: 'node_modules/prom-client/index.js',
    edit: (text) =>
      text.replace(
        "exports.collectDefaultMetrics = require('./lib/defaultMetrics');",
        "Object.defineProperty(exports, 'collectDefaultMetrics', { enumerable: true, get: () => require('./lib/defaultMetrics') });",
      ),
  },
  // commander spawns only for executable subcommands, which egressd has none of: child_process
  // (and the dgram and net it loads) only if one is ever spawned.
  {
    file: 'node_modules/commander/lib/command.js',
    edit: (text) => text.replace("const childProcess = require('node:child_process');", "const childProcess = { get spawn() { return require('node:child_process').spawn; } };"),
  },
];
const edited = new Set();
const editLibraries = {
  name: 'edit-libraries',
  setup(b) {
    b.onLoad({ filter: /node_modules[\\/](prom-client|pino|zod|commander|@opentelemetry[\\/]api)[\\/]/ }, async (args) => {
      const entry = LIBRARY_EDITS.find((e) => args.path.endsWith(e.file));
      if (!entry) return undefined;
      const text = await readFile(args.path, 'utf8');
      const contents = entry.edit(text);
      if (contents === text) throw new Error(`${entry.file}: the edit no longer applies`);
      edited.add(entry.file);
      return { contents, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

// detect uses two functions of simple-statistics, whose package entry also computes a table of the
// normal distribution as it loads. The bundle takes the two from their own modules in the package;
// importing any other name from it fails the build.
const STATISTICS_FUNCTIONS = { median: 'median.js', medianAbsoluteDeviation: 'median_absolute_deviation.js' };
const statisticsFunctionsOnly = {
  name: 'statistics-functions-only',
  setup(b) {
    b.onResolve({ filter: /^simple-statistics$/ }, () => ({ path: 'simple-statistics', namespace: 'statistics-functions' }));
    b.onLoad({ filter: /.*/, namespace: 'statistics-functions' }, () => ({
      contents: Object.entries(STATISTICS_FUNCTIONS).map(([name, file]) => `export { default as ${name} } from './${file}';`).join('\n'),
      resolveDir: join(root, 'node_modules', 'simple-statistics', 'src'),
      loader: 'js',
    }));
  },
};

// The brief bundle stops at the first module a command imports when it runs (`await import`): the
// launcher runs it only for command lines naming no command that does (src/cli/launch.ts).
const briefOnly = {
  name: 'brief-only',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'not-in-brief-bundle' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'not-in-brief-bundle' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path}: not in the brief CLI bundle (dist/bin/cli-brief.cjs)`)});`,
      loader: 'js',
    }));
  },
};

// The ClickHouse client (an eighth of the CLI with its dependencies) has a file of its own: most
// starts need not read it. It shares no state with the rest, so nothing is duplicated.
const clickhouseApart = {
  name: 'clickhouse-apart',
  setup(b) {
    b.onResolve({ filter: /^@clickhouse\/client$/ }, () => ({ path: './clickhouse-client.cjs', external: true }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  // ASCII only, so the launcher reads the bundle as latin1 (no UTF-8 decoding).
  charset: 'ascii',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS has no import.meta: the module's own file URL stands in for it.
  banner: { js: 'var __egressdModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__egressdModuleUrl', EGRESSD_BUNDLED_PCAP_WORKER: JSON.stringify('./pcap-worker.cjs') },
  plugins: [editLibraries],
  write: false,
};

/** Replace a file whole, so that a CLI starting meanwhile reads the old or the new one. */
function install(path, contents, mode = 0o644) {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, contents, { mode });
  renameSync(temp, path);
}

mkdirSync(outdir, { recursive: true });
const [cli, cliBrief, clickhouse, pcapWorker, launch] = await Promise.all([
  build({ ...common, entryPoints: [join(root, 'src', 'cli', 'main.ts')], outfile: bundle, plugins: [editLibraries, clickhouseApart, statisticsFunctionsOnly] }),
  build({ ...common, entryPoints: [join(root, 'src', 'cli', 'main.ts')], outfile: briefBundle, plugins: [briefOnly, editLibraries] }),
  build({ ...common, entryPoints: ['@clickhouse/client'], outfile: clickhouseClient, banner: {}, define: {}, plugins: [] }),
  build({ ...common, entryPoints: [join(root, 'src', 'sources', 'pcap', 'worker.ts')], outfile: worker }),
  build({ ...common, entryPoints: [join(root, 'src', 'cli', 'launch.ts')], outfile: launcher }),
]);
const missing = LIBRARY_EDITS.filter((e) => !edited.has(e.file));
if (missing.length) throw new Error(`not found in the bundle any more: ${missing.map((e) => e.file).join(', ')}`);

/**
 * A bundle's first line names this build of it: V8 checks a code cache against the length of the
 * source only, and the launcher gives it no cache made for another build. The module body is
 * wrapped here, once, so that the launcher compiles the file's text as read (no copy of it).
 */
function installBundle(path, output) {
  const body = output.outputFiles[0].text.replace(/^#![^\n]*\n/, '');
  const bundleId = createHash('sha256').update(body).digest('hex').slice(0, 16);
  install(path, `// egressd-bundle ${bundleId}\n(function (exports, require, module, __filename, __dirname) {\n${body}\n})\n`);
}
installBundle(bundle, cli);
installBundle(briefBundle, cliBrief);
install(clickhouseClient, clickhouse.outputFiles[0].contents);
install(worker, pcapWorker.outputFiles[0].contents);
install(launcher, launch.outputFiles[0].contents, 0o755);
// Through a symbolic link too (/usr/bin/egressd): the runtime is found beside the real file.
install(
  command,
  [
    '#!/bin/sh',
    '# egressd on the Node.js runtime installed with it, else on the node found on PATH.',
    'self=$(readlink -f -- "$0") || exit 1',
    'here=${self%/*}',
    'runtime=$here/../../node_modules/.bin/node',
    '[ -x "$runtime" ] || runtime=node',
    '# A replay is a batch job of seconds: V8\'s top-tier compiler costs it more than it gains.',
    'flags=',
    'for arg in "$@"; do',
    '  if [ "$arg" = replay ]; then',
    '    flags=--no-turbofan',
    '    break',
    '  fi',
    'done',
    'exec "$runtime" $flags "$here/egressd.cjs" "$@"',
    '',
  ].join('\n'),
  0o755,
);
// The code caches go (the warm-up below makes them for this build), and whatever else is there
// is left from an earlier layout.
const outputs = new Set([command, launcher, bundle, briefBundle, worker, clickhouseClient]);
for (const name of readdirSync(outdir)) if (!outputs.has(join(outdir, name))) rmSync(join(outdir, name), { recursive: true, force: true });

// Without a cache the launcher writes one as the run exits, through the command, so on the
// runtime the command runs (a cache made by another Node.js is rejected). The builder's own
// egressd settings (a ClickHouse to write to, a state directory) stay out of it.
const warmUpState = mkdtempSync(join(tmpdir(), 'egressd-build-'));
const warmUpEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('EGRESSD_')));
const warmUp = (args) => execFileSync(command, args, { cwd: root, env: warmUpEnv, stdio: ['ignore', 'ignore', 'inherit'] });
try {
  // Replay's cache (made with its V8 flags), the whole CLI's for other commands, the brief one's.
  warmUp(['replay', '--rules', join(root, 'rules'), '--state-dir', warmUpState, warmUpInput]);
  warmUp(['check', '--rules', join(root, 'rules')]);
  warmUp(['version']);
} finally {
  rmSync(warmUpState, { recursive: true, force: true });
}

const sizes = [command, launcher, bundle, codeCache, replayCodeCache, briefBundle, briefCodeCache, worker, clickhouseClient].map((f) => `${f.slice(root.length + 1)} ${(statSync(f).size / 1024).toFixed(0)} KiB`);
if (!/^#!/.test(readFileSync(launcher, 'latin1'))) throw new Error(`${launcher}: no #! line`);
process.stdout.write(`${sizes.join(', ')}\n`);
