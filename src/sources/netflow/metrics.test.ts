import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/env.js';
import { kernelDrops } from './metrics.js';

describe('kernelDrops', () => {
  it('sums the drops column of sockets bound to the port, IPv4 and IPv6', () => {
    const dir = tempDir();
    try {
      const header = '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n';
      writeFileSync(
        join(dir.path, 'udp'),
        header +
          ' 1: 0100007F:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000000000000 17\n' +
          ' 2: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1235 2 0000000000000000 99\n',
      );
      writeFileSync(
        join(dir.path, 'udp6'),
        header + ' 3: 00000000000000000000000001000000:0807 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1236 2 0000000000000000 3\n',
      );
      const files = [join(dir.path, 'udp'), join(dir.path, 'udp6')];
      expect(kernelDrops(2055, files)).toBe(20);
      expect(kernelDrops(53, files)).toBe(99);
      expect(kernelDrops(9999, files)).toBeUndefined();
      expect(kernelDrops(2055, [join(dir.path, 'missing')])).toBeUndefined();
    } finally {
      dir.remove();
    }
  });
});
