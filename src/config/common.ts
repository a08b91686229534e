import { z } from 'zod';
import { isIP } from '../util/ip.js';

/** `host:port` or `[v6]:port`; host may be a name such as localhost. */
export const listenAddress = z.string().refine(
  (text) => parseListenAddress(text) !== undefined,
  { message: 'expected host:port or [ipv6]:port, e.g. 127.0.0.1:2055 or [::]:2055' },
);

export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) return undefined;
  const host = m[1]!;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  if (text.startsWith('[') && !isIP(host)) return undefined;
  return { host, port };
}

/** A duration in milliseconds, or text such as `90s`, `5m`, `24h`, `7d`. */
export const duration = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 500ms, 90s, 5m, 24h or 7d' });
    return z.NEVER;
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
});

/** A size in bytes, or text such as `64KiB`, `100MB`, `2GiB`. */
export const byteSize = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'expected a size such as 65536, 64KiB, 100MB or 2GiB' });
    return z.NEVER;
  }
  const units: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
  return Math.round(Number(m[1]) * (units[(m[2] ?? 'b').toLowerCase()] ?? 1));
});

/**
 * A secret: given inline, from an environment variable (`env:NAME`), or from a file
 * (`*_file` option handled by the owner). Never only from the command line.
 */
export function resolveSecret(value: string | undefined, file: string | undefined, readFile: (p: string) => string): string | undefined {
  if (file) return readFile(file).trim();
  if (value?.startsWith('env:')) return process.env[value.slice(4)];
  return value;
}
