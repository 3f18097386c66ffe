import { deleteApp } from 'firebase-admin/app';
import { describe, expect, it } from 'vitest';
import { adminFirestoreAt } from '../../../src/emulators/firestore/admin.ts';
import { startFirestore } from '../../../src/emulators/firestore/index.ts';

describe('adminFirestoreAt', () => {
  it('writes to the emulator it names, not the one FIRESTORE_EMULATOR_HOST points at', async () => {
    // The global setup has pointed FIRESTORE_EMULATOR_HOST at the shared test emulator.
    expect(process.env.FIRESTORE_EMULATOR_HOST).toBeTruthy();
    const other = await startFirestore({});
    const { app, db } = adminFirestoreAt('demo-admin-at', other.hostPort, 'admin-at-test');
    try {
      await db.doc('probe/one').set({ n: 1 });
      const paths = other.exportJson().databases.flatMap((d) => d.documents.map((x) => x.path));
      expect(paths).toContain('probe/one');
      expect(process.env.FIRESTORE_EMULATOR_HOST).not.toBe(other.hostPort);
    } finally {
      await deleteApp(app);
      await other.stop();
    }
  });
});
