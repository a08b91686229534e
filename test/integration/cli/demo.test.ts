import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../../support/env.js';

// The README's first command ends in `npm run demo`: it must show every kind of incident.
describe('the bundled demo', () => {
  it('replays the sample through the whole pipeline and prints an incidents table', () => {
    const demo = join(REPO_ROOT, 'deploy', 'demo');
    const r = runCli(['replay', '--rules', join(demo, 'rules'), '--squid-logformat', 'combined', '--table', join(demo, 'access.log')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SEVERITY\s+SCORE\s+KIND/);
    const kinds = new Set(lines.slice(1, -1).map((l) => l.split(/\s{2,}/)[2]));
    expect(kinds).toEqual(new Set(['bittorrent', 'swarm', 'bulk_acquisition']));
    // The simulated office's browsing and approved updates raise nothing: every host named is a labelled one.
    const hosts = new Set(lines.slice(1, -1).flatMap((l) => l.split(/\s{2,}/)[4]!.split(',')));
    expect([...hosts].every((h) => /^10\.(20|50)\./.test(h))).toBe(true);
  });
});
