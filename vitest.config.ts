import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The end-to-end files share one stack. The dashboard's browser test drives the demo's own
 * collections, queues and cooldowns through the page, as an operator would: it runs after the
 * other end-to-end files, so the state they start from is the seed's.
 */
class DashboardLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (f: TestSpecification) =>
      /dashboard[\\/]test[\\/].*\.e2e\.test\.ts$/.test(f.moduleId);
    return [...sorted.filter((f) => !last(f)), ...sorted.filter(last)];
  }
}

// Two projects: fast tests against the embedded emulators (Firestore, Storage) that the
// global setup starts on free ports, and end-to-end tests that bring the whole local
// stack (firebase-tools Functions/Tasks/Auth/Hosting emulators) up once.
export default defineConfig({
  test: {
    // What tests and the libraries under them print to the console shows for failed tests only
    // (the project's own logger is held back the same way: devstack/test/setup/logs.ts).
    silent: 'passed-only',
    // Two workers even on two cores (Vitest's default there is one): the end-to-end files spend
    // most of their time waiting on the stack, and the unit files use that time. 16 min -> 12.5.
    maxWorkers: 2,
    sequence: { sequencer: DashboardLastSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'functions/test/**/*.test.ts',
            'devstack/test/**/*.test.ts',
            'client/test/**/*.test.ts',
            'cli/test/**/*.test.ts',
            'dashboard/test/**/*.test.ts',
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
