import { type App, initializeApp } from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';

/**
 * A firebase-admin app whose Firestore talks to the emulator at `hostPort`. The client lets
 * FIRESTORE_EMULATOR_HOST override `settings.host` (and keeps its port), so the variable is
 * set aside while the client is made: the test runner's process may already point it at another emulator.
 */
export function adminFirestoreAt(
  projectId: string,
  hostPort: string,
  appName: string,
): { app: App; db: Firestore } {
  const saved = process.env.FIRESTORE_EMULATOR_HOST;
  delete process.env.FIRESTORE_EMULATOR_HOST;
  try {
    const app = initializeApp({ projectId }, appName);
    const db = getFirestore(app);
    db.settings({ host: hostPort, port: Number(hostPort.split(':').at(-1)), ssl: false });
    return { app, db };
  } finally {
    if (saved !== undefined) process.env.FIRESTORE_EMULATOR_HOST = saved;
  }
}
