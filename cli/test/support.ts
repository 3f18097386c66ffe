import type { ApiFixture } from '../../functions/test/api/support.ts';
import type { Progress } from '../src/output.ts';
import { type CliOptions, runCli } from '../src/program.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Progress bars as events, to check a long job reports its whole work. */
export class RecordedProgress implements Progress {
  readonly bars: Array<{ label: string; total: number; value: number; stopped: boolean }> = [];
  start(label: string, total: number) {
    const bar = { label, total, value: 0, stopped: false };
    this.bars.push(bar);
    return {
      increment: (by = 1) => {
        bar.value += by;
      },
      setTotal: (n: number) => {
        bar.total = n;
      },
      stop: () => {
        bar.stopped = true;
      },
    };
  }
}

export const ACTOR_EMAIL = 'ops@example.com';

/**
 * The CLI in process on a test's Firestore: the command layer with the fixture's dependencies
 * (its Firestore namespace, fixed clock, fake users and task queue) instead of firebase-admin's
 * default app.
 */
export async function cli(
  fixture: ApiFixture,
  args: string[],
  options: Partial<CliOptions> = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    // The environment does not name the actor (a spoofed one here must not show up).
    env: { GCLOUD_PROJECT: 'demo-cli-test', TOLLGATE_ACTOR_EMAIL: 'spoofed@example.com' },
    // The signed-in principal, as Application Default Credentials would answer (no network).
    principal: async () => ACTOR_EMAIL,
    connect: async (target) => ({
      projectId: target.projectId,
      deps: fixture.deps,
      close: async () => {},
    }),
    ...options,
  });
  return { code, stdout, stderr };
}
