import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./src/fixtures/global-setup.ts'],
  },
});
