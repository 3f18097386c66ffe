import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { PROJECT_DIR, startStack } from '../../src/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: {
      projectId: string;
      region: string;
      urls: Record<string, string>;
      env: Record<string, string>;
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
  }).catch((error) => {
    console.error(lines.slice(-60).join('\n'));
    throw error;
  });
  project.provide('stack', {
    projectId: stack.projectId,
    region: stack.region,
    urls: stack.urls,
    env: stack.env,
  });
  return async () => {
    await stack.stop();
    writeFileSync(join(logDir, 'e2e-stack.log'), lines.join('\n'));
  };
}
