import { z } from 'zod';
import {
  DEFAULT_PAYLOAD_CONFIG,
  isPayloadId,
  type PayloadConfig,
  payloadOfObject,
} from '../storage/payloads';
import { canonicalJson } from './backup-file';
import { MAX_PAGE_DOCUMENTS } from './backup-schedule';
import type { BackupMap } from './backup-value-model';
import { count, parseStrict, sha256Hex, shapeError } from './scheduled-json';
import { OBJECTS_FORMAT, OBJECTS_VERSION } from './scheduled-layout';

/**
 * A page of payloads' Cloud Storage objects: the objects list copied next to the page, and
 * which payload documents a restore may write.
 */

const objectEntrySchema = z.strictObject({
  payload: z.string().refine(isPayloadId, 'a payload id'),
  /** Where the payload's object lives in the payload bucket. */
  object: z.string().min(1).max(1024),
  bytes: count,
  sha256: sha256Hex,
  contentType: z.string().max(1024).optional(),
});
export type ObjectEntry = z.infer<typeof objectEntrySchema>;

const objectsFileSchema = z.strictObject({
  format: z.literal(OBJECTS_FORMAT),
  version: z.literal(OBJECTS_VERSION),
  objects: z.array(objectEntrySchema).min(1).max(MAX_PAGE_DOCUMENTS),
});

export function serializeObjects(objects: ObjectEntry[]): string {
  return `${canonicalJson({ format: OBJECTS_FORMAT, version: OBJECTS_VERSION, objects })}\n`;
}

export function parseObjects(bytes: Uint8Array): ObjectEntry[] {
  const parsed = objectsFileSchema.safeParse(parseStrict(bytes, 'the objects list'));
  if (!parsed.success) throw shapeError('objects', parsed.error);
  return parsed.data.objects;
}

/**
 * Why a payload metadata document cannot be restored, if it cannot. A document in Cloud
 * Storage must name the object Tollgate derives from its id (payload-store.ts): a restore
 * writes that object, so a document may not point it anywhere else in the bucket.
 */
export function payloadDocumentProblem(
  id: string,
  data: BackupMap,
  config: PayloadConfig = DEFAULT_PAYLOAD_CONFIG,
): string | undefined {
  if (!isPayloadId(id)) return 'not a payload id';
  if (typeof data.bytes !== 'number' || typeof data.contentType !== 'string') {
    return 'bytes and contentType are required';
  }
  if (data.location === 'inline') {
    return data.data instanceof Uint8Array ? undefined : 'an inline payload holds its data';
  }
  if (data.location !== 'storage') return 'location is "inline" or "storage"';
  if (typeof data.object !== 'string') return 'a payload in Cloud Storage names its object';
  const owner = payloadOfObject(data.object, config);
  if (owner?.id !== id || owner.temporary !== (data.temporary === true)) {
    return `object "${data.object.slice(0, 120)}" is not this payload's (${config.objectPrefix}${id} or ${config.temporaryPrefix}${id})`;
  }
  return undefined;
}
