import { describe, expect, it } from 'vitest';
import { freshBucket, rejection, statusOf } from './clients.ts';

describe('buckets', () => {
  it('exists() is false until create(); a second create() is 409', async () => {
    const bucket = freshBucket('bkt');
    expect((await bucket.exists())[0]).toBe(false);
    await bucket.create();
    expect((await bucket.exists())[0]).toBe(true);
    expect(statusOf(await rejection(bucket.create()))).toBe(409);
    const [meta] = await bucket.getMetadata();
    expect(meta).toMatchObject({ kind: 'storage#bucket', name: bucket.name });
  });

  it('is created implicitly by the first upload', async () => {
    const bucket = freshBucket('bkt-implicit');
    await bucket.file('first').save('x');
    expect((await bucket.exists())[0]).toBe(true);
  });

  it('delete() refuses a non-empty bucket with 409 and removes an empty one', async () => {
    const bucket = freshBucket('bkt-del');
    await bucket.file('f').save('x');
    expect(statusOf(await rejection(bucket.delete()))).toBe(409);
    await bucket.file('f').delete();
    await bucket.delete();
    expect((await bucket.exists())[0]).toBe(false);
    expect(statusOf(await rejection(bucket.delete()))).toBe(404);
  });
});
