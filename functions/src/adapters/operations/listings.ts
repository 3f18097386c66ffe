import { DocumentReference, type Query, Timestamp } from 'firebase-admin/firestore';
import type { z } from 'zod';
import { type Category, categorySchema } from '../../core/config';
import {
  AUDIT_LOG_COLLECTION,
  type AuditLogEntry,
  failedPrecondition,
  type ListAuditLogResult,
  type ListCollectionsResult,
  type listAuditLogInput,
  type listCollectionsInput,
  notFound,
} from '../../core/operations';
import { collectionSchema } from '../../core/pipeline/collection-schema';
import { type CollectionStatusReport, statusReport } from '../../core/pipeline/collection-status';
import { effectiveShares } from '../../core/quota/allocation';
import { CONFIG_PATHS } from '../config-repository';
import { COLLECTIONS_PATH } from '../pipeline/collections-repository';
import { loadPipelineConfig } from '../pipeline/pipeline-config';
import type { OperationContext } from './context';

/** Audit entries one page holds by default (at most 200, the schema's bound). */
export const DEFAULT_AUDIT_PAGE = 50;
/** Collections one listCollections answer holds by default (at most 200). */
export const DEFAULT_COLLECTIONS_PAGE = 100;

/** A before/after value whose JSON is longer than this is served cut (see `bounded`). */
export const AUDIT_VALUE_MAX_CHARS = 4_000;
/** How much of a cut value's JSON is served. */
export const AUDIT_PREVIEW_CHARS = 1_000;

/**
 * A plain value bounded for an answer: a value whose JSON exceeds AUDIT_VALUE_MAX_CHARS is
 * served as `{ truncated: true, bytes, preview }` (bytes: the JSON's length in characters,
 * preview: its first AUDIT_PREVIEW_CHARS characters), so one page of entries stays bounded.
 */
function bounded(value: unknown): unknown {
  const json = JSON.stringify(value) ?? 'null';
  if (json.length <= AUDIT_VALUE_MAX_CHARS) return value;
  return { truncated: true, bytes: json.length, preview: json.slice(0, AUDIT_PREVIEW_CHARS) };
}

/** A stored value as plain JSON: Timestamps as epoch ms, references as their paths. */
function plain(value: unknown): unknown {
  if (value instanceof Timestamp) return value.toMillis();
  if (value instanceof DocumentReference) return value.path;
  if (value instanceof Date) return value.getTime();
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return String(value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function auditEntry(id: string, data: Record<string, unknown>): AuditLogEntry {
  const who = (data.who ?? {}) as Record<string, unknown>;
  const at = data.at;
  const atMs =
    typeof data.atMs === 'number' ? data.atMs : at instanceof Timestamp ? at.toMillis() : 0;
  return {
    id,
    who: {
      uid: String(who.uid ?? ''),
      email: typeof who.email === 'string' ? who.email : null,
      role: String(who.role ?? ''),
    },
    what: String(data.what ?? ''),
    target: String(data.target ?? ''),
    before: bounded(plain(data.before ?? null)),
    after: bounded(plain(data.after ?? null)),
    atMs,
    relatedCount: Array.isArray(data.related) ? data.related.length : 0,
    ...(typeof data.reason === 'string' ? { reason: data.reason } : {}),
  };
}

/**
 * The audit log, newest first (by `at`), one page of at most `limit` entries: one query of
 * limit + 1 documents (the extra one tells whether there is a next page) and, with a cursor, one
 * read of the cursor's entry. `what` and `target` filters are part of the query (composite
 * indexes in firestore.indexes.json), so a filtered page is complete.
 */
export async function listAuditLog(
  ctx: OperationContext,
  input: z.output<typeof listAuditLogInput>,
): Promise<ListAuditLogResult> {
  const { db } = ctx;
  const limit = input.limit ?? DEFAULT_AUDIT_PAGE;
  let query: Query = db.collection(AUDIT_LOG_COLLECTION);
  if (input.what !== undefined) query = query.where('what', '==', input.what);
  if (input.target !== undefined) query = query.where('target', '==', input.target);
  query = query.orderBy('at', 'desc');
  if (input.startAfter !== undefined) {
    const ref = db.collection(AUDIT_LOG_COLLECTION).doc(input.startAfter);
    const cursor = await ref.get();
    if (!cursor.exists) throw notFound('audit entry', input.startAfter, ref.path);
    // The query orders by `at`: an entry without a Timestamp there cannot anchor a page.
    if (!(cursor.get('at') instanceof Timestamp)) {
      throw failedPrecondition(
        `audit entry "${input.startAfter}" has no Timestamp "at" and cannot be a cursor`,
        { path: ref.path },
      );
    }
    query = query.startAfter(cursor);
  }
  const snapshot = await query.limit(limit + 1).get();
  const page = snapshot.docs.slice(0, limit);
  return {
    entries: page.map((doc) => auditEntry(doc.id, doc.data())),
    nextCursor: snapshot.size > limit ? (page.at(-1)?.id ?? null) : null,
  };
}

/**
 * Every collection (or those of one status), ordered by id, each with the report
 * getCollectionStatus gives: at most `limit` collection documents (and one more, for
 * `truncated`), the categories (for effective shares) and the pipeline configuration.
 */
export async function listCollections(
  ctx: OperationContext,
  input: z.output<typeof listCollectionsInput>,
): Promise<ListCollectionsResult> {
  const { db } = ctx;
  const limit = input.limit ?? DEFAULT_COLLECTIONS_PAGE;
  let query: Query = db.collection(COLLECTIONS_PATH);
  if (input.status !== undefined) query = query.where('status', '==', input.status);
  const [snapshot, categoryDocs, pipeline] = await Promise.all([
    query.limit(limit + 1).get(),
    db.collection(CONFIG_PATHS.categories).get(),
    loadPipelineConfig(db),
  ]);
  const categories = categoryDocs.docs.flatMap((doc): Category[] => {
    const parsed = categorySchema.safeParse({ id: doc.id, ...doc.data() });
    return parsed.success ? [parsed.data] : [];
  });
  const effective = new Map<string, number>();
  for (const provider of new Set(categories.map((c) => c.provider))) {
    const ours = categories.filter((c) => c.provider === provider);
    for (const share of effectiveShares(ours)) effective.set(share.category, share.percent);
  }
  const now = ctx.now();
  const collections: CollectionStatusReport[] = [];
  const unreadable: string[] = [];
  for (const doc of snapshot.docs.slice(0, limit)) {
    const parsed = collectionSchema.safeParse(doc.data());
    if (!parsed.success) {
      unreadable.push(doc.id);
      continue;
    }
    const share = effective.get(parsed.data.category);
    collections.push(
      statusReport(parsed.data, now, {
        config: pipeline.collections,
        ...(share === undefined ? {} : { effectiveSharePercent: share }),
      }),
    );
  }
  return { collections, truncated: snapshot.size > limit, unreadable };
}
