// The objects a scheduled backup writes: its documents cut into page texts (tollgate-backup
// files), and each object saved only if new.
import { BackupBuilder } from '../../core/backup/backup-create';
import { TARGET_PAGE_BYTES } from '../../core/backup/scheduled-layout';
import type { Bucket } from '../storage/payload-store-types';
import type { ReadDocument } from './scheduled-page-reads';

export async function saveNew(bucket: Bucket, name: string, text: string): Promise<Buffer> {
  const bytes = Buffer.from(text, 'utf8');
  await bucket.file(name).save(bytes, {
    resumable: false,
    contentType: 'application/json',
    preconditionOpts: { ifGenerationMatch: 0 },
  });
  return bytes;
}

/** Splits documents (sorted) into page texts of at most TARGET_PAGE_BYTES (one document more). */
export function* pageTexts(
  docs: readonly ReadDocument[],
  header: { createdAt: number; projectId: string },
): Generator<{ text: string; checksum: string; documents: number }> {
  let builder = new BackupBuilder(header);
  let body = '';
  const finish = () => {
    const { head, tail, checksum } = builder.finish();
    return { text: head + body + tail, checksum, documents: builder.documents };
  };
  for (const { path, data } of docs) {
    body += builder.document(path, data);
    if (body.length >= TARGET_PAGE_BYTES) {
      yield finish();
      builder = new BackupBuilder(header);
      body = '';
    }
  }
  if (builder.documents > 0) yield finish();
}
