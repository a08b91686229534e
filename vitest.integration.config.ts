import { defineConfig } from 'vitest/config';

// Integration suite: real servers and tools (ClickHouse, Prometheus, Squid, softflowd,
// BitTorrent clients) on loopback. Under CI=true a missing tool is a failure.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
