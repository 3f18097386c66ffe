import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getStorage } from 'firebase-admin/storage';
import { afterAll, describe, expect, it } from 'vitest';

// firebase-admin/storage wraps @google-cloud/storage; it must work with nothing but the
// environment (STORAGE_EMULATOR_HOST) and the app's default bucket.
describe('firebase-admin/storage', () => {
  const app = initializeApp(
    {
      projectId: process.env.GCLOUD_PROJECT ?? 'demo-tollgate',
      storageBucket: `fa-${randomUUID().slice(0, 8)}.appspot.com`,
    },
    `storage-test-${randomUUID()}`,
  );
  afterAll(() => deleteApp(app));

  it('saves, lists, reads and deletes through the default bucket', async () => {
    const bucket = getStorage(app).bucket();
    const file = bucket.file('payloads/run-1.json');
    await file.save(JSON.stringify({ ok: true }), {
      contentType: 'application/json',
      preconditionOpts: { ifGenerationMatch: 0 },
    });
    const [files] = await bucket.getFiles({ prefix: 'payloads/' });
    expect(files.map((f) => f.name)).toEqual(['payloads/run-1.json']);
    expect(JSON.parse((await file.download())[0].toString())).toEqual({ ok: true });
    await file.delete();
    expect((await file.exists())[0]).toBe(false);
  });
});
