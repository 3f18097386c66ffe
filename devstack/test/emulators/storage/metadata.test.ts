import { describe, expect, it } from 'vitest';
import { freshBucket, rejection, statusOf } from './clients.ts';

describe('object metadata', () => {
  it('exists() tells present from absent objects', async () => {
    const bucket = freshBucket('meta-exists');
    expect((await bucket.file('a').exists())[0]).toBe(false);
    await bucket.file('a').save('x');
    expect((await bucket.file('a').exists())[0]).toBe(true);
  });

  it('returns the resource fields the real API returns', async () => {
    const file = freshBucket('meta-fields').file('dir/f.txt');
    await file.save('12345', { contentType: 'text/plain' });
    const [meta] = await file.getMetadata();
    expect(meta).toMatchObject({
      kind: 'storage#object',
      name: 'dir/f.txt',
      bucket: file.bucket.name,
      size: '5',
      metageneration: '1',
      storageClass: 'STANDARD',
      id: `${file.bucket.name}/dir/f.txt/${meta.generation}`,
    });
    expect(meta.generation).toMatch(/^\d+$/);
    expect(new Date(meta.timeCreated!).toISOString()).toBe(meta.timeCreated);
    expect(meta.updated).toBe(meta.timeCreated);
  });

  it('setMetadata() merges custom metadata, removes null keys and bumps metageneration', async () => {
    const file = freshBucket('meta-patch').file('p.json');
    await file.save('{}', {
      metadata: { contentType: 'application/json', metadata: { a: '1', b: '2' } },
    });
    const [before] = await file.getMetadata();

    await file.setMetadata({ cacheControl: 'no-store', metadata: { b: null, c: '3' } });
    const [after] = await file.getMetadata();
    expect(after.metadata).toEqual({ a: '1', c: '3' });
    expect(after.cacheControl).toBe('no-store');
    expect(after.contentType).toBe('application/json');
    expect(after.generation).toBe(before.generation);
    expect(after.metageneration).toBe('2');
    expect(after.timeCreated).toBe(before.timeCreated);
    expect(Date.parse(after.updated!)).toBeGreaterThanOrEqual(Date.parse(before.updated!));
    expect((await file.download())[0].toString()).toBe('{}');
  });

  it('honours ifMetagenerationMatch on setMetadata', async () => {
    const file = freshBucket('meta-cond').file('c');
    await file.save('x');
    await file.setMetadata({ metadata: { v: '1' } }, { ifMetagenerationMatch: 1 });
    const err = await rejection(
      file.setMetadata({ metadata: { v: '2' } }, { ifMetagenerationMatch: 1 }),
    );
    expect(statusOf(err)).toBe(412);
    expect((await file.getMetadata())[0].metadata).toEqual({ v: '1' });
  });

  it('copy() and move() carry bytes and metadata to another object', async () => {
    const bucket = freshBucket('meta-copy');
    await bucket.file('tmp/src').save('payload', { metadata: { metadata: { k: 'v' } } });
    await bucket.file('tmp/src').copy(bucket.file('final/dst'));
    const [meta] = await bucket.file('final/dst').getMetadata();
    expect(meta.metadata).toEqual({ k: 'v' });
    expect((await bucket.file('final/dst').download())[0].toString()).toBe('payload');

    await bucket.file('tmp/src').move('final/moved');
    expect((await bucket.file('tmp/src').exists())[0]).toBe(false);
    expect((await bucket.file('final/moved').download())[0].toString()).toBe('payload');
  });
});
