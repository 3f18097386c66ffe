import type { DocumentReference, Transaction } from 'firebase-admin/firestore';
import { z } from 'zod';
import type {
  AggregationConfig,
  FlushReason,
  SourceResponse,
} from '../../core/pipeline/aggregation';

/**
 * The aggregation store's documents (the layout is described in aggregation-store.ts): their
 * collections, schemas, and how a header is read and a response stored.
 */

export const AGGREGATIONS_COLLECTION = 'aggregations';
export const RESPONSES_SUBCOLLECTION = 'responses';
export const AGGREGATES_COLLECTION = 'aggregates';
export const AGGREGATION_STATS_COLLECTION = 'aggregationStats';

/** A Firestore document id: no slash, not `.`/`..`, not `__x__`. */
const docId = z
  .string()
  .min(1)
  .max(500)
  .refine((s) => !s.includes('/') && s !== '.' && s !== '..' && !/^__.*__$/.test(s), {
    message: 'not usable as a document id',
  });

export const sourceResponseSchema = z.object({
  workItemId: docId,
  source: docId,
  value: z.number().finite().nullable(),
  confidence: z.number().min(0).max(1).optional(),
});

const headerSchema = z.object({
  workItemId: z.string(),
  firstAtMs: z.number(),
  count: z.number().int().nonnegative(),
  lateCount: z.number().int().nonnegative().default(0),
  status: z.enum(['pending', 'written']),
  flushAtMs: z.number(),
  flushScheduled: z.boolean(),
});
export type Header = z.infer<typeof headerSchema>;

export const storedResponseSchema = sourceResponseSchema.extend({
  receivedAtMs: z.number(),
  late: z.boolean(),
});

/** The core's precedence: a due reason (quorum, then timeout) before `forced`. */
export function flushReason(
  count: number,
  header: Header,
  nowMs: number,
  config: AggregationConfig,
  force = false,
): FlushReason | undefined {
  if (count >= config.minResponses) return 'quorum';
  if (nowMs >= header.flushAtMs) return 'timeout';
  return force && count > 0 ? 'forced' : undefined;
}

export async function readHeader(
  tx: Transaction,
  ref: DocumentReference,
): Promise<Header | undefined> {
  const snapshot = await tx.get(ref);
  return snapshot.exists ? headerSchema.parse(snapshot.data()) : undefined;
}

export function toSourceResponse(r: z.infer<typeof storedResponseSchema>): SourceResponse {
  const { workItemId, source, value, confidence } = r;
  return confidence === undefined
    ? { workItemId, source, value }
    : { workItemId, source, value, confidence };
}

/** The stored document; an absent confidence is left out (Firestore rejects undefined). */
export function stored(response: SourceResponse, receivedAtMs: number, late: boolean) {
  const { workItemId, source, value, confidence } = response;
  return {
    workItemId,
    source,
    value,
    ...(confidence === undefined ? {} : { confidence }),
    receivedAtMs,
    late,
  };
}
