import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Shared helpers for tests: public fixtures, real tools, free ports, servers stopped by PID.

/** The repository root, from the source tree (test/support) or the build (dist/test/support). */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'rules'))) return dir;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export const REPO_ROOT = findRepoRoot();
export const SHARED_FIXTURES = resolve(REPO_ROOT, '..', 'shared', 'fixtures');
export const IN_CI = process.env.CI === 'true';

/** Path of a public fixture under ../shared/fixtures, or undefined (with a notice) when absent outside CI. */
export function sharedFixture(relative: string): string | undefined {
  const path = join(SHARED_FIXTURES, relative);
  if (existsSync(path)) return path;
  if (IN_CI) throw new Error(`public fixture missing under CI: ${path}`);
  console.warn(`[skip] public fixture ${relative} not found under ${SHARED_FIXTURES}`);
  return undefined;
}

export function hasSharedFixtures(): boolean {
  return existsSync(SHARED_FIXTURES);
}

/** Absolute path of an executable on PATH (including sbin dirs), or undefined. */
export function which(tool: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin']);
  for (const d of dirs) {
    const p = join(d, tool);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * A real tool the integration suite needs. Under CI=true a missing tool is a failure; elsewhere
 * the caller skips with a visible notice.
 */
export function requireTool(tool: string): string | undefined {
  const path = which(tool);
  if (path) return path;
  if (IN_CI) throw new Error(`required tool not installed under CI: ${tool}`);
  console.warn(`[skip] ${tool} is not installed`);
  return undefined;
}

/** A free TCP port on loopback (the kernel picks it; free for UDP in practice too). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export function tempDir(prefix = 'egressd-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Poll `check` until it returns true or throw after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stop a server started by a test: SIGTERM by PID, SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess | undefined, graceMs = 5000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Start a long-running tool with its output captured to memory for diagnostics. */
export function startProcess(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  return { child, output: () => output };
}

/**
 * The installed `egressd` command (package.json `bin`, deploy/build-cli.mjs): a shell script that
 * runs CLI on the Node.js runtime installed with egressd.
 */
export const COMMAND = join(REPO_ROOT, 'dist', 'bin', 'egressd');
/**
 * The one-file CLI bundle's launcher, which `npm run build` makes after tsc: tests run it on this
 * process's Node.js, under `npm test` the runtime COMMAND picks.
 */
export const CLI = join(REPO_ROOT, 'dist', 'bin', 'egressd.cjs');
/** The same CLI as tsc builds it, module by module (what the bundle is made from). */
export const TSC_CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

/** Run the CLI (or `options.cli`, another build of it) to completion. */
export function runCli(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cli?: string } = {}) {
  try {
    const stdout = execFileSync(process.execPath, [options.cli ?? CLI, ...args], {
      input: options.input,
      env: { ...process.env, ...options.env },
      maxBuffer: 512 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return { code: 0, stdout: stdout.toString(), stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: Buffer; stderr?: Buffer };
    return { code: e.status ?? 1, stdout: e.stdout?.toString() ?? '', stderr: e.stderr?.toString() ?? '' };
  }
}
