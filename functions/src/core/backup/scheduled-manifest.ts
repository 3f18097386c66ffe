import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BackupError, canonicalJson } from './backup-file';
import { BACKUP_ID, MAX_PAGE_DOCUMENTS } from './backup-schedule';
import { SCHEDULED_BACKUP_COLLECTIONS } from './backup-scope';
import { count, parseStrict, sha256Hex, shapeError } from './scheduled-json';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  MAX_PAGE_BYTES,
  pageName,
  pageObjectsName,
} from './scheduled-layout';

/** A scheduled backup's manifest, its commit point: every page, with sizes and checksums. */

const pageSchema = z.strictObject({
  name: z.string().regex(/^pages\/\d{6,9}\.json$/),
  collection: z.enum(SCHEDULED_BACKUP_COLLECTIONS),
  documents: z.number().int().min(1).max(MAX_PAGE_DOCUMENTS),
  bytes: z.number().int().min(1).max(MAX_PAGE_BYTES),
  sha256: sha256Hex,
  /** The page file's own checksum (core/backup/backup-file.ts). */
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  objects: z
    .strictObject({
      name: z.string().regex(/^pages\/\d{6,9}\.objects\.json$/),
      count: z.number().int().min(1).max(MAX_PAGE_DOCUMENTS),
      bytes: z.number().int().min(1).max(MAX_PAGE_BYTES),
      sha256: sha256Hex,
    })
    .optional(),
});
export type ManifestPage = z.infer<typeof pageSchema>;

const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(MANIFEST_VERSION),
  id: z.string().regex(BACKUP_ID),
  createdAt: z.iso.datetime(),
  completedAt: z.iso.datetime(),
  /** The schedule's slot the backup was taken for (its start time when taken off schedule). */
  slotMs: z.number().int().nonnegative(),
  projectId: z.string().min(1),
  collections: z.array(z.enum(SCHEDULED_BACKUP_COLLECTIONS)),
  documents: count,
  byCollection: z.partialRecord(z.enum(SCHEDULED_BACKUP_COLLECTIONS), count),
  /** Payload objects copied into the backup. */
  objects: count,
  /** Payload documents left out: their object was missing, or they are not Tollgate's. */
  skipped: count,
  pages: z.array(pageSchema).max(1_000_000),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});
export type ScheduledManifest = z.infer<typeof manifestSchema>;

function checksumOf(content: object): string {
  return `sha256:${createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex')}`;
}

export function createManifest(
  content: Omit<ScheduledManifest, 'checksum' | 'format' | 'version'>,
) {
  const body = { format: MANIFEST_FORMAT, version: MANIFEST_VERSION, ...content } as const;
  const manifest: ScheduledManifest = { ...body, checksum: checksumOf(body) };
  return { manifest, text: `${canonicalJson(manifest)}\n` };
}

/**
 * A manifest's bytes, verified: canonical JSON of the schema above, its checksum, and totals
 * that agree with its pages. Throws BackupError.
 */
export function verifyManifest(bytes: Uint8Array, expectedId?: string): ScheduledManifest {
  const raw = parseStrict(bytes, 'the manifest');
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw shapeError('manifest', parsed.error);
  const { checksum, ...body } = parsed.data;
  if (checksumOf(body) !== checksum) {
    throw new BackupError('checksum', 'the manifest does not match its checksum');
  }
  const m = parsed.data;
  if (expectedId !== undefined && m.id !== expectedId) {
    throw new BackupError('shape', `the manifest is of backup ${m.id}, not ${expectedId}`);
  }
  const problems: string[] = [];
  const byCollection: Record<string, number> = {};
  m.pages.forEach((page, i) => {
    if (page.name !== pageName(i + 1)) problems.push(`pages[${i}]: named ${page.name}`);
    if (page.objects && page.objects.name !== pageObjectsName(i + 1)) {
      problems.push(`pages[${i}].objects: named ${page.objects.name}`);
    }
    if (page.objects && page.collection !== 'payloads') {
      problems.push(`pages[${i}]: only pages of payloads have objects`);
    }
    if (!m.collections.includes(page.collection)) {
      problems.push(`pages[${i}]: ${page.collection} is not among the backup's collections`);
    }
    byCollection[page.collection] = (byCollection[page.collection] ?? 0) + page.documents;
  });
  const total = m.pages.reduce((sum, p) => sum + p.documents, 0);
  if (total !== m.documents) problems.push(`documents: ${m.documents}, pages hold ${total}`);
  if (canonicalJson(byCollection) !== canonicalJson(m.byCollection)) {
    problems.push('byCollection does not add up its pages');
  }
  const objects = m.pages.reduce((sum, p) => sum + (p.objects?.count ?? 0), 0);
  if (objects !== m.objects) problems.push(`objects: ${m.objects}, pages list ${objects}`);
  if (problems.length > 0) {
    throw new BackupError('shape', `the manifest: ${problems.slice(0, 5).join('; ')}`, problems);
  }
  return m;
}
