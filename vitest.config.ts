import { defineConfig } from 'vitest/config';

// Two projects: fast tests against the embedded emulators (Firestore, Storage) that the
// global setup starts on free ports, and end-to-end tests that bring the whole local
// stack (firebase-tools Functions/Tasks/Auth/Hosting emulators) up once.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'functions/test/**/*.test.ts',
            'devstack/test/**/*.test.ts',
            'client/test/**/*.test.ts',
            'cli/test/**/*.test.ts',
          ],
          exclude: ['**/*.e2e.test.ts', '**/node_modules/**'],
          globalSetup: ['devstack/test/setup/emulators.ts'],
          setupFiles: ['devstack/test/setup/logs.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['**/*.e2e.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['devstack/test/setup/stack.ts'],
          setupFiles: ['devstack/test/setup/logs.ts'],
          testTimeout: 120_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
