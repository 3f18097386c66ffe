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

/** Fires a scheduled function through the local scheduler; the function's HTTP status. */
export async function fireSchedule(name: string): Promise<number> {
  const response = await fetch(`${stack.urls.control}/schedules/${name}/fire`, { method: 'POST' });
  expect(response.status).toBe(200);
  return ((await response.json()) as { status: number }).status;
}
