import { describe, expect, it } from 'vitest';
import { emulatorUrl, freshBucket, rejection, statusOf } from './clients.ts';

describe('delete and not-found', () => {
  it('delete() removes the object; a second delete is 404 unless ignoreNotFound', async () => {
    const file = freshBucket('del').file('tmp/old.json');
    await file.save('x');
    await file.delete();
    expect((await file.exists())[0]).toBe(false);
    expect(statusOf(await rejection(file.delete()))).toBe(404);
    await file.delete({ ignoreNotFound: true });
  });

  it('deleteFiles({prefix}) removes only the matching objects', async () => {
    const bucket = freshBucket('del-prefix');
    await Promise.all(['tmp/1', 'tmp/2', 'keep/3'].map((n) => bucket.file(n).save(n)));
    await bucket.deleteFiles({ prefix: 'tmp/' });
    expect((await bucket.getFiles())[0].map((f) => f.name)).toEqual(['keep/3']);
  });

  it('honours ifGenerationMatch on delete', async () => {
    const file = freshBucket('del-cond').file('c');
    await file.save('x');
    const err = await rejection(file.delete({ ifGenerationMatch: 1 }));
    expect(statusOf(err)).toBe(412);
    expect((await file.exists())[0]).toBe(true);
  });

  it('missing objects give 404 on getMetadata, download and setMetadata', async () => {
    const file = freshBucket('missing').file('nope');
    expect(statusOf(await rejection(file.getMetadata()))).toBe(404);
    expect(statusOf(await rejection(file.download()))).toBe(404);
    expect(statusOf(await rejection(file.setMetadata({ metadata: { a: '1' } })))).toBe(404);
  });

  it('errors have the JSON API error body', async () => {
    const bucket = freshBucket('errbody').name;
    const res = await fetch(`${emulatorUrl()}/b/${bucket}/o/${encodeURIComponent('a/b')}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      error: {
        code: 404,
        message: `No such object: ${bucket}/a/b`,
        errors: [
          { domain: 'global', reason: 'notFound', message: `No such object: ${bucket}/a/b` },
        ],
      },
    });
  });

  it('unsupported endpoints fail loudly with 501 instead of pretending', async () => {
    const res = await fetch(`${emulatorUrl()}/b/x/o/y/compose`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(501);
    expect((await res.json()).error.errors[0].reason).toBe('notImplemented');
  });
});
