import { describe, expect, it } from 'vitest';
import { pcapSourceSchema } from './config.js';
import { PCAP_REPLAY_DEFAULTS } from './defaults.js';

describe('PCAP_REPLAY_DEFAULTS', () => {
  it('equals the defaults of the packet source schema (the replay worker starts with it)', () => {
    expect(PCAP_REPLAY_DEFAULTS).toEqual(pcapSourceSchema.parse({ type: 'pcap' }));
  });
});
