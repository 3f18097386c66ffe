import { createHash, randomUUID } from 'node:crypto';
import { CRC32C, Storage } from '@google-cloud/storage';

// The tests reach the emulator only through STORAGE_EMULATOR_HOST, which the global setup
// sets, exactly as application code does; each test gets its own bucket.

export function emulatorUrl(): string {
  const url = process.env.STORAGE_EMULATOR_HOST;
  if (!url)
    throw new Error('STORAGE_EMULATOR_HOST is not set; run through the vitest global setup');
  return url;
}

export function storage(): Storage {
  return new Storage({ projectId: process.env.GCLOUD_PROJECT ?? 'demo-tollgate' });
}

export function freshBucket(label: string) {
  return storage().bucket(`${label}-${randomUUID().slice(0, 8)}`);
}

/** The HTTP status an error from either client path (JSON API or resumable upload) carries. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e.code, e.status, e.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** Checksums as GCS reports them, computed independently of the emulator (MD5 by Node,
 * CRC32C by the client library's own implementation). */
export const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');

export function crc(b: Buffer): string {
  const c = new CRC32C();
  c.update(b);
  return c.toString();
}
