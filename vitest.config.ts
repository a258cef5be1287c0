import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The browser tests need Debian's Chromium: installed here when missing (as root), else a clear failure.
    globalSetup: ['test/browser/global-setup.ts'],
  },
});
