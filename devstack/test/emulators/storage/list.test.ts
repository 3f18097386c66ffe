import type { GetFilesOptions } from '@google-cloud/storage';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshBucket } from './clients.ts';

describe('listing', () => {
  const bucket = freshBucket('list');
  const names = [
    'tmp/2024/a.json',
    'tmp/2024/b.json',
    'tmp/2025/c.json',
    'tmp/d.json',
    'tmp/e.json',
    'tmpfile',
    'final/x.json',
  ];

  /** Walks the pages by hand, as a clean-up job that bounds its work per run would. */
  async function* pages(first: GetFilesOptions) {
    let query: GetFilesOptions | null = { ...first, autoPaginate: false };
    while (query) {
      const [files, next, raw] = await bucket.getFiles(query);
      const prefixes = (raw as { prefixes?: string[] }).prefixes ?? [];
      yield { names: files.map((f) => f.name), prefixes };
      // Typed as options, but null after the last page.
      query = next as GetFilesOptions | null;
    }
  }

  beforeAll(async () => {
    await Promise.all(names.map((n) => bucket.file(n).save(n, { resumable: false })));
  });

  it('filters by prefix and returns names in lexicographic order', async () => {
    const [files] = await bucket.getFiles({ prefix: 'tmp/' });
    expect(files.map((f) => f.name)).toEqual([
      'tmp/2024/a.json',
      'tmp/2024/b.json',
      'tmp/2025/c.json',
      'tmp/d.json',
      'tmp/e.json',
    ]);
  });

  it('carries size, generation, timeCreated and updated on listed files', async () => {
    const [files] = await bucket.getFiles({ prefix: 'tmp/d' });
    expect(files).toHaveLength(1);
    const meta = files[0]!.metadata;
    expect(meta.size).toBe(String(Buffer.byteLength('tmp/d.json')));
    expect(meta.generation).toMatch(/^\d+$/);
    expect(Number.isNaN(Date.parse(meta.timeCreated!))).toBe(false);
    expect(meta.updated).toBe(meta.timeCreated);
  });

  it('pages with maxResults and pageToken when autoPaginate is off', async () => {
    const seen: string[] = [];
    let count = 0;
    for await (const page of pages({ prefix: 'tmp/', maxResults: 2 })) {
      expect(page.names.length).toBeLessThanOrEqual(2);
      seen.push(...page.names);
      count++;
    }
    expect(count).toBe(3);
    expect(seen).toEqual(names.filter((n) => n.startsWith('tmp/')).sort());
  });

  it('caps pages at 1000 entries and autoPaginate follows nextPageToken', async () => {
    const big = freshBucket('list-big');
    const count = 1001;
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, k) =>
          big.file(`n/${String(i + k).padStart(4, '0')}`).save('', { resumable: false }),
        ),
      );
    }
    const [firstPage, next] = await big.getFiles({ autoPaginate: false });
    expect(firstPage).toHaveLength(1000);
    expect(next).toMatchObject({ pageToken: expect.any(String) });
    const [all] = await big.getFiles();
    expect(all).toHaveLength(count);
    expect(all.at(-1)!.name).toBe('n/1000');
  });

  it('folds names into prefixes with a delimiter, across pages too', async () => {
    const [files, , response] = await bucket.getFiles({
      prefix: 'tmp/',
      delimiter: '/',
      autoPaginate: false,
    });
    expect(files.map((f) => f.name)).toEqual(['tmp/d.json', 'tmp/e.json']);
    expect((response as { prefixes?: string[] }).prefixes).toEqual(['tmp/2024/', 'tmp/2025/']);

    // Prefixes count towards maxResults and a page boundary inside a prefix does not repeat it.
    const entries: string[] = [];
    for await (const page of pages({ prefix: 'tmp/', delimiter: '/', maxResults: 1 })) {
      expect(page.names.length + page.prefixes.length).toBe(1);
      entries.push(...page.prefixes, ...page.names);
    }
    expect(entries).toEqual(['tmp/2024/', 'tmp/2025/', 'tmp/d.json', 'tmp/e.json']);
  });

  it('returns an empty list for an unused prefix or a bucket nobody wrote to', async () => {
    expect((await bucket.getFiles({ prefix: 'nothing/' }))[0]).toEqual([]);
    expect((await freshBucket('list-empty').getFiles())[0]).toEqual([]);
  });
});
