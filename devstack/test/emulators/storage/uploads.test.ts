import { describe, expect, it } from 'vitest';
import { crc, emulatorUrl, freshBucket, md5, rejection, statusOf } from './clients.ts';

describe('uploads', () => {
  it('resumable (file.save default) stores bytes, content type and custom metadata', async () => {
    const bucket = freshBucket('up-resumable');
    const data = Buffer.from('{"hello":"world"}');
    await bucket.file('payloads/a.json').save(data, {
      contentType: 'application/json',
      metadata: { metadata: { jobId: 'j-1' } },
    });
    const [meta] = await bucket.file('payloads/a.json').getMetadata();
    expect(meta).toMatchObject({
      name: 'payloads/a.json',
      bucket: bucket.name,
      contentType: 'application/json',
      size: String(data.length),
      md5Hash: md5(data),
      crc32c: crc(data),
      metadata: { jobId: 'j-1' },
    });
    const [back] = await bucket.file('payloads/a.json').download();
    expect(back.equals(data)).toBe(true);
  });

  it('resumable in several chunks resumes from the Range the server reports', async () => {
    const bucket = freshBucket('up-chunked');
    const data = Buffer.alloc(600 * 1024 + 17, 0);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    await bucket.file('big.bin').save(data, { chunkSize: 256 * 1024 });
    const [back] = await bucket.file('big.bin').download();
    expect(back.equals(data)).toBe(true);
  });

  it('multipart (resumable: false) stores bytes and metadata', async () => {
    const bucket = freshBucket('up-multipart');
    const data = Buffer.from('multipart body\r\n--not-a-boundary\r\n');
    await bucket.file('m.txt').save(data, {
      resumable: false,
      contentType: 'text/plain',
      metadata: { metadata: { kind: 'test' } },
    });
    const [meta] = await bucket.file('m.txt').getMetadata();
    expect(meta).toMatchObject({ contentType: 'text/plain', metadata: { kind: 'test' } });
    expect(meta.md5Hash).toBe(md5(data));
    const [back] = await bucket.file('m.txt').download();
    expect(back.equals(data)).toBe(true);
  });

  it('media (uploadType=media) stores the raw body with the request content type', async () => {
    const bucket = freshBucket('up-media');
    const data = Buffer.from([0, 1, 2, 255, 254]);
    const url = new URL(`${emulatorUrl()}/upload/storage/v1/b/${bucket.name}/o`);
    url.searchParams.set('uploadType', 'media');
    url.searchParams.set('name', 'raw/bytes.bin');
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-test' },
      body: data,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      kind: 'storage#object',
      name: 'raw/bytes.bin',
      size: '5',
      crc32c: crc(data),
    });
    const [meta] = await bucket.file('raw/bytes.bin').getMetadata();
    expect(meta.contentType).toBe('application/x-test');
    const [back] = await bucket.file('raw/bytes.bin').download();
    expect(back.equals(data)).toBe(true);
  });

  it('an upload whose X-Goog-Hash does not match its body is rejected with 400', async () => {
    const bucket = freshBucket('up-badhash');
    const url = `${emulatorUrl()}/upload/storage/v1/b/${bucket.name}/o?uploadType=media&name=x`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'x-goog-hash': `md5=${md5(Buffer.from('other'))}` },
      body: 'payload',
    });
    expect(res.status).toBe(400);
    expect((await bucket.file('x').exists())[0]).toBe(false);
  });

  describe('create-if-absent (ifGenerationMatch: 0)', () => {
    const onlyIfAbsent = { preconditionOpts: { ifGenerationMatch: 0 } };

    for (const resumable of [true, false]) {
      it(`${resumable ? 'resumable' : 'multipart'}: first write wins, second gets 412`, async () => {
        const file = freshBucket('up-absent').file('once.json');
        await file.save('first', { resumable, ...onlyIfAbsent });
        const err = await rejection(file.save('second', { resumable, ...onlyIfAbsent }));
        expect(statusOf(err)).toBe(412);
        expect((await file.download())[0].toString()).toBe('first');
      });
    }

    it('concurrent writers: exactly one succeeds', async () => {
      const file = freshBucket('up-race').file('claim');
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          file.save(`writer-${i}`, { resumable: i % 2 === 0, ...onlyIfAbsent }),
        ),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      for (const r of lost) expect(statusOf((r as PromiseRejectedResult).reason)).toBe(412);
    });

    it('a matching generation allows an overwrite and bumps the generation', async () => {
      const file = freshBucket('up-gen').file('g');
      await file.save('v1', onlyIfAbsent);
      const [m1] = await file.getMetadata();
      await file.save('v2', { preconditionOpts: { ifGenerationMatch: Number(m1.generation) } });
      const [m2] = await file.getMetadata();
      expect(BigInt(m2.generation!)).toBeGreaterThan(BigInt(m1.generation!));
      const stale = await rejection(
        file.save('v3', {
          resumable: false,
          preconditionOpts: { ifGenerationMatch: Number(m1.generation) },
        }),
      );
      expect(statusOf(stale)).toBe(412);
    });
  });
});

describe('resumable protocol on the wire', () => {
  async function openSession(bucket: string, name: string): Promise<string> {
    const url = `${emulatorUrl()}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${name}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-upload-content-type': 'text/plain' },
      body: JSON.stringify({ metadata: { step: 'wire' } }),
    });
    expect(res.status).toBe(200);
    const location = res.headers.get('location');
    expect(location).toMatch(/upload_id=/);
    return location!;
  }

  const put = (uri: string, range: string, body = '') =>
    fetch(uri, { method: 'PUT', headers: { 'content-range': range }, body });

  it('answers 308 with the received range until the last byte, then 200 with the object', async () => {
    const bucket = freshBucket('wire');
    const uri = await openSession(bucket.name, 'w.txt');

    const status0 = await put(uri, 'bytes */*');
    expect(status0.status).toBe(308);
    expect(status0.headers.get('range')).toBeNull();

    const first = await put(uri, 'bytes 0-4/11', 'hello');
    expect(first.status).toBe(308);
    expect(first.headers.get('range')).toBe('bytes=0-4');

    // A resend of bytes the server already has is skipped, not appended twice.
    const resend = await put(uri, 'bytes 3-6/11', 'lo w');
    expect(resend.headers.get('range')).toBe('bytes=0-6');

    const last = await put(uri, 'bytes 7-10/11', 'orld');
    expect(last.status).toBe(200);
    expect(await last.json()).toMatchObject({
      name: 'w.txt',
      size: '11',
      contentType: 'text/plain',
    });

    const [meta] = await bucket.file('w.txt').getMetadata();
    expect(meta.metadata).toEqual({ step: 'wire' });
    expect((await bucket.file('w.txt').download())[0].toString()).toBe('hello world');
  });

  it('rejects a chunk that would leave a gap', async () => {
    const uri = await openSession(freshBucket('wire-gap').name, 'gap');
    const res = await put(uri, 'bytes 5-9/10', 'world');
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe(400);
  });
});
