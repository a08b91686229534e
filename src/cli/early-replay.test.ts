import { describe, expect, it } from 'vitest';
import { firstReplayInput } from './early-replay.js';

describe('firstReplayInput', () => {
  it('reads the first input of a replay command line, past the options with values of egressd and of replay', () => {
    expect(firstReplayInput(['replay', 'a.pcap'])).toBe('a.pcap');
    expect(firstReplayInput(['replay', 'a.pcap', 'b.pcap'])).toBe('a.pcap');
    expect(firstReplayInput(['-c', 'egressd.yaml', '--rules', 'rules', 'replay', '--emit', 'records', '-o', 'out.json', 'a.pcap'])).toBe('a.pcap');
    expect(firstReplayInput(['--state-dir=/tmp/s', 'replay', '--log-level=debug', '--table', '-f', 'pcap', 'a.pcap'])).toBe('a.pcap');
    expect(firstReplayInput(['replay', '--squid-logformat', 'combined', '--format=pcap', 'capture'])).toBe('capture');
  });

  it('gives up on anything it cannot read plainly, so the CLI starts its worker as it always did', () => {
    expect(firstReplayInput(['run', 'a.pcap'])).toBeUndefined();
    expect(firstReplayInput(['replay'])).toBeUndefined();
    expect(firstReplayInput(['replay', '-'])).toBeUndefined();
    expect(firstReplayInput(['replay', '-f', 'zeek', 'conn.log'])).toBeUndefined();
    expect(firstReplayInput(['replay', '--format=squid', 'access.log'])).toBeUndefined();
    expect(firstReplayInput(['replay', '--help', 'a.pcap'])).toBeUndefined();
    expect(firstReplayInput(['replay', '-x', 'a.pcap'])).toBeUndefined();
    expect(firstReplayInput(['replay', '-o'])).toBeUndefined();
    // An option's value is never taken for the command or the input.
    expect(firstReplayInput(['-c', 'replay', 'check'])).toBeUndefined();
    expect(firstReplayInput(['replay', '-o', 'a.pcap'])).toBeUndefined();
  });
});
