// `egressd replay capture.pcap`, when the capture worker is wanted (pcapWorkerWanted): the launcher starts it
// before it loads the CLI, so the worker's own start overlaps loading and parsing. The CLI uses that worker only when it would
// have started one for the same file itself (startPcapReplay), and stops it otherwise.
import { closeSync, openSync, readSync } from 'node:fs';
import { sniffCaptureFormat } from '../decode/packet/capture.js';
import { SpawnedPcapWorker, pcapWorkerAvailable, pcapWorkerWanted } from '../sources/pcap/spawn.js';

/** Options of `egressd` and of `egressd replay` that take a value. */
const VALUE_OPTIONS = new Set(['-c', '--config', '-r', '--rules', '-s', '--state-dir', '--log-level', '-f', '--format', '-o', '--out', '--emit', '--squid-logformat']);
/** Options of `egressd replay` that take none. */
const FLAG_OPTIONS = new Set(['--table']);

/**
 * The first input of a `replay` command line when it can be read off plainly, else undefined:
 * any option this does not know, `-` (standard input) or a format other than pcap forgoes the
 * early start, never the replay.
 */
export function firstReplayInput(args: readonly string[]): string | undefined {
  let command: string | undefined;
  let format: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('-') && arg !== '-') {
      const equals = arg.indexOf('=');
      const name = equals > 0 ? arg.slice(0, equals) : arg;
      if (VALUE_OPTIONS.has(name)) {
        const value = equals > 0 ? arg.slice(equals + 1) : args[++i];
        if (value === undefined) return undefined;
        if (name === '-f' || name === '--format') format = value;
        continue;
      }
      if (FLAG_OPTIONS.has(arg)) continue;
      return undefined;
    }
    if (command === undefined) {
      if (arg !== 'replay') return undefined;
      command = arg;
      continue;
    }
    return arg === '-' || (format !== undefined && format !== 'pcap') ? undefined : arg;
  }
  return undefined;
}

/** True when the file starts like a pcap or pcapng capture. */
function looksLikeCapture(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && sniffCaptureFormat(head) !== undefined;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The capture worker for `egressd <args>`, started now, or undefined when there is none to start. */
export function startReplayEarly(args: readonly string[]): SpawnedPcapWorker | undefined {
  const path = firstReplayInput(args);
  if (path === undefined || !pcapWorkerWanted() || !pcapWorkerAvailable() || !looksLikeCapture(path)) return undefined;
  return new SpawnedPcapWorker(path);
}
