import { FieldPath, type Firestore, type Query } from 'firebase-admin/firestore';
import { z } from 'zod';
import type { Interval } from '../../core/pipeline/backfill';
import {
  floorToHour,
  hourKey,
  mergeSalesRows,
  type SalesRow,
  type SalesSummary,
  type StoredSalesBucket,
  salesBucketKey,
  salesBucketRange,
  salesMarketplaceIdSchema,
  salesRowSchema,
  summarizeSales,
} from '../../core/upstreams/sales';
import { logger } from '../../log';
import { type BatchWrite, commitInBatches } from '../storage/batch-writes';

/**
 * Vendor real-time sales, one document per marketplace, hour and ASIN:
 * `sales/{marketplaceId}~{hourStartIso}~{asin}`. Writes are plain `set`s of values derived from
 * the row alone, so storing the same report twice writes the same documents: no duplicates,
 * nothing counted twice. Storing a window replaces that window: a bucket the new report no
 * longer has (an audit found the hour revised to nothing) is deleted. A bucket holds the hour's
 * net sales as the report states them: a zero row is a bucket of zeros, and a negative one
 * (cancellations exceeding orders) is kept as it is, so summaries can go down.
 */

export const SALES_COLLECTION = 'sales';

/** The callables' input takes the same schema (core/upstreams/sales.ts). */
const marketplaceIdSchema = salesMarketplaceIdSchema;
const windowSchema = z
  .object({ startMs: z.number().int(), endMs: z.number().int() })
  .refine((w) => w.endMs >= w.startMs, 'endMs must not be before startMs');

/** As stored; read leniently so one bad document is skipped, not fatal. */
const storedBucketSchema = z.object({
  marketplaceId: z.string(),
  asin: z.string(),
  hourStartMs: z.number(),
  hourEndMs: z.number(),
  orderedUnits: z.number(),
  orderedRevenue: z.number(),
});

export interface StoreOutcome {
  /** Buckets set (created or overwritten with the same or newer numbers). */
  written: number;
  /** Buckets of the window the new rows no longer have. */
  deleted: number;
  batches: number;
}

/** Where the sales fetcher puts rows; resolves once they are durable. */
export interface SalesStore {
  replaceWindow(
    marketplaceId: string,
    window: Interval,
    rows: readonly SalesRow[],
    /** The raw payload (payload store id) the rows came from, kept on each bucket. */
    rawPayload?: string,
  ): Promise<StoreOutcome>;
}

export interface SalesSummaryOptions {
  /** Hours starting at or after this instant. */
  sinceMs: number;
  /** Hours starting before this instant (no bound by default). */
  untilMs?: number;
  /** One marketplace only (all by default). */
  marketplaceId?: string;
  /** Length of the best-seller list (10 by default). */
  top?: number;
  /** Buckets read at most (MAX_SUMMARY_BUCKETS by default). */
  maxBuckets?: number;
}

/**
 * Buckets one summary reads at most: a day of 1,000 ASINs that each sell every hour. A longer
 * reach (up to 90 days) over that many ASINs would be millions of documents.
 */
export const MAX_SUMMARY_BUCKETS = 25_000;

/** A summary and whether the bound cut it. */
export interface SalesSummaryRead extends SalesSummary {
  /**
   * More buckets matched than one summary reads: it then covers the newest whole hours only,
   * from its `sinceMs` (later than asked); older hours were left out.
   */
  truncated: boolean;
}

const summaryOptionsSchema = z.object({
  sinceMs: z.number().int(),
  untilMs: z.number().int().optional(),
  marketplaceId: marketplaceIdSchema.optional(),
  top: z.number().int().positive().max(1000).optional(),
  maxBuckets: z.number().int().positive().max(MAX_SUMMARY_BUCKETS).optional(),
});

export const salesDocId = salesBucketKey;

/** What a bucket document holds: the row, its marketplace and the hour's key for reading. */
type BucketDocument = StoredSalesBucket & { hourStart: string; rawPayload?: string };

function bucketDocument(marketplaceId: string, row: SalesRow, rawPayload?: string): BucketDocument {
  return {
    ...(rawPayload ? { rawPayload } : {}),
    marketplaceId,
    asin: row.asin,
    hourStart: hourKey(row.hourStartMs),
    hourStartMs: row.hourStartMs,
    hourEndMs: row.hourEndMs,
    orderedUnits: row.orderedUnits,
    orderedRevenue: row.orderedRevenue,
  };
}

/**
 * Sets one bucket per (ASIN, hour) of `rows` and, when a window is given, deletes the
 * marketplace's buckets of hours starting in that window that `rows` does not have. Batches of
 * at most 500 writes, committed in turn; a failure part-way leaves a mix of old and new buckets
 * that storing the window again repairs.
 */
export async function storeSalesRows(
  db: Firestore,
  marketplaceId: string,
  rows: readonly SalesRow[],
  options: { window?: Interval; rawPayload?: string } = {},
): Promise<StoreOutcome> {
  marketplaceIdSchema.parse(marketplaceId);
  const valid = z.array(salesRowSchema).parse(rows);
  const merged = mergeSalesRows(valid);
  const collection = db.collection(SALES_COLLECTION);
  const writes: BatchWrite[] = merged.map((row) => ({
    ref: collection.doc(salesBucketKey(marketplaceId, row.asin, row.hourStartMs)),
    data: bucketDocument(marketplaceId, row, options.rawPayload),
  }));
  let deleted = 0;
  if (options.window) {
    const window = windowSchema.parse(options.window);
    const keep = new Set(writes.map((w) => w.ref.id));
    for (const id of await bucketIdsIn(db, marketplaceId, window)) {
      if (keep.has(id)) continue;
      writes.push({ ref: collection.doc(id) });
      deleted++;
    }
  }
  const batches = await commitInBatches(db, writes);
  return { written: merged.length, deleted, batches };
}

/** Ids of a marketplace's buckets of hours starting in the window: one key range, no index. */
async function bucketIdsIn(
  db: Firestore,
  marketplaceId: string,
  window: Interval,
): Promise<string[]> {
  if (window.endMs <= window.startMs) return [];
  const [from, to] = salesBucketRange(marketplaceId, window);
  const { docs } = await db
    .collection(SALES_COLLECTION)
    .where(FieldPath.documentId(), '>=', from)
    .where(FieldPath.documentId(), '<', to)
    .select()
    .get();
  return docs.map((d) => d.id);
}

/**
 * The real-time sales summary from stored buckets: totals, best sellers and the latest hour
 * with data. With a marketplace it reads that marketplace's key range; without, the hour range
 * of every marketplace (revenue then adds up across currencies: ask per marketplace for money).
 *
 * Bounded: newest hour first, at most `maxBuckets` documents (one more tells whether there
 * were more). When the bound cuts, the summary covers the whole hours read (the hour the cut
 * fell in is left out, unless it is the only one) and says `truncated`.
 */
export async function summary(
  db: Firestore,
  options: SalesSummaryOptions,
): Promise<SalesSummaryRead> {
  const { sinceMs, untilMs, marketplaceId, top, maxBuckets } = summaryOptionsSchema.parse(options);
  const max = maxBuckets ?? MAX_SUMMARY_BUCKETS;
  const collection = db.collection(SALES_COLLECTION);
  let query: Query;
  if (marketplaceId) {
    // Whole hours only in the key; the exact bound is applied below.
    const [from, to] = salesBucketRange(marketplaceId, {
      startMs: floorToHour(sinceMs),
      endMs: untilMs ?? Date.UTC(9999, 0, 1),
    });
    query = collection
      .where(FieldPath.documentId(), '>=', from)
      .where(FieldPath.documentId(), '<', to)
      .orderBy(FieldPath.documentId(), 'desc');
  } else {
    query = collection.where('hourStartMs', '>=', sinceMs);
    if (untilMs !== undefined) query = query.where('hourStartMs', '<', untilMs);
    query = query.orderBy('hourStartMs', 'desc');
  }
  const { docs } = await query.limit(max + 1).get();
  const truncated = docs.length > max;
  const buckets: StoredSalesBucket[] = [];
  for (const doc of docs.slice(0, max)) {
    const parsed = storedBucketSchema.safeParse(doc.data());
    if (!parsed.success) {
      logger.warn({ id: doc.id, issues: parsed.error.issues }, 'sales bucket skipped: malformed');
      continue;
    }
    const b = parsed.data;
    if (b.hourStartMs < sinceMs || (untilMs !== undefined && b.hourStartMs >= untilMs)) continue;
    buckets.push(b);
  }
  let coveredSinceMs = sinceMs;
  let covered = buckets;
  if (truncated) {
    // Every hour after the first one not read was read whole.
    const next = docs[max]!.get('hourStartMs');
    const oldestRead = buckets.reduce((m, b) => Math.min(m, b.hourStartMs), Infinity);
    const cut = typeof next === 'number' && Number.isFinite(next) ? next : oldestRead;
    const whole = buckets.filter((b) => b.hourStartMs > cut);
    if (whole.length > 0) {
      covered = whole;
      coveredSinceMs = whole.reduce((m, b) => Math.min(m, b.hourStartMs), Infinity);
    } else if (buckets.length > 0) {
      coveredSinceMs = oldestRead; // one hour holds more buckets than the bound: part of it
    }
  }
  return {
    ...summarizeSales(covered, {
      sinceMs: coveredSinceMs,
      ...(untilMs !== undefined ? { untilMs } : {}),
      ...(top !== undefined ? { top } : {}),
    }),
    truncated,
  };
}

/** The store the sales fetcher writes through, and the summary a callable will serve. */
export class SalesRepository implements SalesStore {
  constructor(private readonly db: Firestore) {}

  store(marketplaceId: string, rows: readonly SalesRow[]): Promise<StoreOutcome> {
    return storeSalesRows(this.db, marketplaceId, rows);
  }

  replaceWindow(
    marketplaceId: string,
    window: Interval,
    rows: readonly SalesRow[],
    rawPayload?: string,
  ): Promise<StoreOutcome> {
    return storeSalesRows(this.db, marketplaceId, rows, {
      window,
      ...(rawPayload ? { rawPayload } : {}),
    });
  }

  summary(options: SalesSummaryOptions): Promise<SalesSummaryRead> {
    return summary(this.db, options);
  }
}
