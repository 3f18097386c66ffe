import { randomUUID } from 'node:crypto';
import { type App, deleteApp, initializeApp } from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';
import { afterAll, expect, inject } from 'vitest';

/** The local stack the e2e global setup started (devstack/test/setup/stack.ts). */
export const stack = inject('stack');

/**
 * A firebase-admin app on the stack's emulators for one test file, deleted after it. The
 * stack's environment goes into this worker's process so firebase-admin finds them.
 */
export function connectToStack(): { app: App; db: Firestore } {
  Object.assign(process.env, stack.env);
  const app = initializeApp({ projectId: stack.projectId }, `e2e-${randomUUID()}`);
  afterAll(() => deleteApp(app));
  return { app, db: getFirestore(app) };
}

/**
 * Fires a scheduled function through the local scheduler (the e2e stack fires nothing on its
 * own); the function's HTTP status. `at`: the time the execution is for, as Cloud Scheduler
 * would send it (`event.scheduleTime`); now by default.
 */
export async function fireSchedule(name: string, options: { at?: Date } = {}): Promise<number> {
  const response = await fetch(`${stack.urls.control}/schedules/${name}/fire`, {
    method: 'POST',
    ...(options.at
      ? {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ at: options.at.toISOString() }),
        }
      : {}),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { status: number }).status;
}
