import { defineConfig } from 'vitest/config';

// The tests spawn the built command (node dist/cli.mjs), so the global setup builds it first when any source file
// is newer than the build. Every test starts real servers and child processes: vitest's 5 s defaults are too short
// on a busy 2-core machine.
export default defineConfig({
  test: {
    globalSetup: ['./src/fixtures/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
