import { defineConfig } from 'vitest/config';

// Fast unit tests beside the code: no servers, no external tools.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 20_000,
    pool: 'forks',
  },
});
