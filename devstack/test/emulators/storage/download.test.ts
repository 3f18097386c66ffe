import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc, emulatorUrl, freshBucket, md5 } from './clients.ts';

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

describe('downloads', () => {
  const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256));

  it('reports the CRC32C and MD5 that independent implementations compute', async () => {
    const file = freshBucket('dl-sums').file('blob.bin');
    await file.save(data);
    const [meta] = await file.getMetadata();
    expect(meta.crc32c).toBe(crc(data));
    expect(meta.md5Hash).toBe(md5(data));
  });

  it('download() and createReadStream() pass the client checksum validation', async () => {
    const file = freshBucket('dl-validate').file('blob.bin');
    await file.save(data, { resumable: false });
    for (const validation of ['crc32c', 'md5', true] as const) {
      const [viaDownload] = await file.download({ validation });
      expect(viaDownload.equals(data)).toBe(true);
      const viaStream = await collect(file.createReadStream({ validation }));
      expect(viaStream.equals(data)).toBe(true);
    }
  });

  it('serves byte ranges', async () => {
    const file = freshBucket('dl-range').file('blob.bin');
    await file.save(data);
    const [slice] = await file.download({ start: 100, end: 199 });
    expect(slice.equals(data.subarray(100, 200))).toBe(true);
    const tail = await collect(file.createReadStream({ start: data.length - 10 }));
    expect(tail.equals(data.subarray(data.length - 10))).toBe(true);
  });

  it('sends the x-goog-hash, generation and stored-encoding headers GCS sends', async () => {
    const file = freshBucket('dl-headers').file('h.txt');
    await file.save('headers', { contentType: 'text/plain' });
    const [meta] = await file.getMetadata();
    const res = await fetch(
      `${emulatorUrl()}/download/storage/v1/b/${file.bucket.name}/o/h.txt?alt=media`,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('x-goog-hash')).toBe(`crc32c=${meta.crc32c},md5=${meta.md5Hash}`);
    expect(res.headers.get('x-goog-generation')).toBe(meta.generation);
    expect(res.headers.get('x-goog-stored-content-encoding')).toBe('identity');
    expect(await res.text()).toBe('headers');
  });

  it('handles awkward names and non-ASCII metadata', async () => {
    const bucket = freshBucket('dl-names');
    const name = 'odd/ü n#i?c%o&d=e+.txt';
    await bucket.file(name).save('odd', { metadata: { metadata: { label: 'Größe ✓' } } });
    expect((await bucket.file(name).download())[0].toString()).toBe('odd');
    expect((await bucket.file(name).getMetadata())[0].metadata).toEqual({ label: 'Größe ✓' });
    expect((await bucket.getFiles({ prefix: 'odd/' }))[0].map((f) => f.name)).toEqual([name]);
  });

  it('serves path-style URLs such as file.publicUrl()', async () => {
    const file = freshBucket('dl-public').file('dir/p ublic.txt');
    await file.save('public bytes');
    const res = await fetch(file.publicUrl());
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('public bytes');
  });

  it('round-trips gzip-encoded objects, decompressing for the caller', async () => {
    const file = freshBucket('dl-gzip').file('z.json');
    const json = Buffer.from(JSON.stringify({ rows: Array.from({ length: 500 }, (_, i) => i) }));
    await file.save(gzipSync(json), {
      resumable: false,
      metadata: { contentType: 'application/json', contentEncoding: 'gzip' },
    });
    const [back] = await file.download();
    expect(back.equals(json)).toBe(true);
  });
});
