import { defineConfig } from 'vitest/config';

// The peer range is ioredis >=5.3.0 <7. Everything runs on the catalog's ioredis 6; the store's
// own tests run once more with `ioredis` resolving to the oldest release of the range (the
// `ioredis-5.3` alias). The fleet tests' child processes load ioredis 6 themselves.
// Every test starts real redis-servers, token servers or child processes: vitest's 5 s defaults are too short
// on a busy 2-core machine.
export default defineConfig({
  test: {
    globalSetup: ['./src/fixtures/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'ioredis 6', provide: { ioredis: '6' } } },
      {
        extends: true,
        test: { name: 'ioredis 5.3.0', include: ['src/redis-store.test.ts'], provide: { ioredis: '5.3.0' } },
        resolve: { alias: [{ find: /^ioredis$/, replacement: 'ioredis-5.3' }] },
      },
    ],
  },
});
