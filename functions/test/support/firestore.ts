import { randomUUID } from 'node:crypto';
import { type App, deleteApp, initializeApp } from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';

/**
 * A firebase-admin Firestore on the emulator the global setup started, in its own app and
 * database namespace (a fresh project id), so test files never see each other's documents.
 */
export function testFirestore(): { db: Firestore; app: App; close: () => Promise<void> } {
  if (!process.env.FIRESTORE_EMULATOR_HOST) throw new Error('FIRESTORE_EMULATOR_HOST is not set');
  const app: App = initializeApp(
    { projectId: `demo-test-${randomUUID().slice(0, 8)}` },
    randomUUID(),
  );
  const db = getFirestore(app);
  return { db, app, close: () => deleteApp(app) };
}
