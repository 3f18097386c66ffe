import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { failOnOffLoopback } from '../../src/loopback.ts';
import { PROJECT_DIR, startStack } from '../../src/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: {
      projectId: string;
      region: string;
      urls: Record<string, string>;
      env: Record<string, string>;
      /** The bearer token of `metrics` and `health` detail. */
      metricsToken: string;
    };
  }
}

/** Brings the whole local stack up once on free ports for the end-to-end tests. */
export default async function setup(project: TestProject) {
  const logDir = join(PROJECT_DIR, '.tollgate');
  mkdirSync(logDir, { recursive: true });
  const lines: string[] = [];
  const stack = await startStack({
    ports: 'free',
    log: (line) => lines.push(line),
    // Reports finish fast, so a backfill of several chunks fits a test.
    spapiProcessingMs: 1_500,
    // SP-API's published rates 30 times faster (a report a minute becomes one every 2 s): the
    // files share the stack, and at a token a minute whichever file ran second waited minutes
    // for the tokens the first spent. The published rates are proven without 429 in
    // functions/test/upstreams/spapi-accounting.test.ts.
    spapiRateLimits: {
      createReport: { ratePerSecond: 0.5, burst: 15 },
      getReport: { ratePerSecond: 60, burst: 15 },
      getReportDocument: { ratePerSecond: 0.5, burst: 15 },
    },
    // No schedule fires on its own: a cron crossing the run (collectionBatches at 18:00
    // recording progress in the middle of the stalled-collection test, say) would change what
    // a test looks at depending on the time of day. Each test fires what it needs, as of the
    // time it needs (functions/test/e2e/schedules.e2e.test.ts covers every schedule).
    schedules: 'manual',
  }).catch((error) => {
    console.error(lines.slice(-60).join('\n'));
    throw error;
  });
  project.provide('stack', {
    projectId: stack.projectId,
    region: stack.region,
    urls: stack.urls,
    env: stack.env,
    metricsToken: stack.metricsToken,
  });
  return async () => {
    await stack.stop();
    writeFileSync(join(logDir, 'e2e-stack.log'), lines.join('\n'));
    // Every process of the stack ran with the loopback guard: any attempt off 127.0.0.0/8
    // (the metadata server, a telemetry or update check) was refused and fails the run.
    failOnOffLoopback(stack.offLoopback(), 'the stack');
  };
}
