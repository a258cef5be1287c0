import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file in a child process of its own: the files start daemons, libp2p hosts and
    // child CLIs, and a crash or a leaked handle stays in its file.
    pool: 'forks',
    isolate: true,
    // Vitest's default on a 2-core machine is one worker (cores - 1): every file in turn,
    // though most of a network or CLI test's time is spent waiting on sockets, child
    // processes and timers, not on a core. Two files at once keep both cores busy.
    // CHORUS_TEST_WORKERS overrides it (1 to run the files one by one).
    fileParallelism: true,
    maxWorkers: Number(process.env['CHORUS_TEST_WORKERS'] ?? 2),
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // Debian's Chromium: installed here when missing (as root), else a clear failure.
          // Only this project needs it; a unit test run never looks for it.
          globalSetup: ['test/browser/global-setup.ts'],
        },
      },
    ],
  },
});
