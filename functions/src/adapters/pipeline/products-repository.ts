import { isDeepStrictEqual } from 'node:util';
import {
  type DocumentSnapshot,
  FieldPath,
  type Firestore,
  type QueryDocumentSnapshot,
} from 'firebase-admin/firestore';
import { z } from 'zod';
import { assertWithinLimits } from '../../core/storage/firestore-limits';
import {
  documentIdProblem,
  isReservedName,
  refineFieldNames,
} from '../../core/storage/firestore-names';
import { type ProductRecord, productRecordSchema } from '../../core/validation';
import { db as instanceDb } from '../firebase';

/**
 * The product data the pipeline collects, one document `products/{marketplace}~{key}` in the
 * shape validation reads (the core's `ProductRecord`) plus the collection that gathered it and
 * the time it last changed. Price points are merged by date in a transaction, so a redelivered
 * task writes nothing new and concurrent collectors of one product lose nothing.
 */

export const PRODUCTS_PATH = 'products';

/** Price points arrive from several tasks at once for popular products. */
const TRANSACTION_ATTEMPTS = 10;

/** Longer than any ISO date-time with an offset and nanoseconds (35 characters). */
const MAX_DATE_LENGTH = 64;
/** Marketplace names are short ids (`takealot`, `ATVPDKIKX0DER`); they key validation summaries. */
const MAX_MARKETPLACE_LENGTH = 100;

const pointInputSchema = z.object({
  /** ISO date or date-time; points are merged on this exact string. */
  date: z.string().min(1).max(MAX_DATE_LENGTH),
  price: z.number().nullable(),
  confidence: z.number().min(0).max(1).optional(),
});

export const priceHistoryUpsertSchema = z
  .object({
    // `~` separates marketplace and key in the document id. The marketplace also becomes a
    // field name in validation runs (`marketplaces.<name>`), so Firestore's reserved `__x__`
    // names are refused here rather than when a run's summary is written.
    marketplace: z
      .string()
      .max(MAX_MARKETPLACE_LENGTH, `at most ${MAX_MARKETPLACE_LENGTH} characters`)
      .regex(/^[^~/]+$/, 'non-empty, without "~" or "/"')
      .refine((m) => !isReservedName(m), 'Firestore reserves names of the form __x__'),
    key: z.string().min(1),
    collection: z.string().min(1),
    /** Merged into the stored identifiers (field names); a blank value never erases a known one. */
    identifiers: z.record(z.string(), z.string()).superRefine(refineFieldNames).default({}),
    prices: z.array(pointInputSchema),
    /** Product-level extraction confidence; replaces the stored one when given. */
    confidence: z.number().min(0).max(1).optional(),
    /** The raw payload (payload store id) this history was made from; replaces the stored one. */
    rawPayload: z.string().min(1).max(500).optional(),
    /** The dates the collection was asked to cover; replaces the stored range when given. */
    expectedRange: z
      .object({
        from: z.string().min(1).max(MAX_DATE_LENGTH),
        to: z.string().min(1).max(MAX_DATE_LENGTH),
      })
      .optional(),
  })
  .superRefine((u, ctx) => {
    // An upstream key can be any length: its document id must stay within 1,500 bytes.
    const problem = documentIdProblem(productDocId(u.marketplace, u.key));
    if (problem) ctx.addIssue({ code: 'custom', path: ['key'], message: `key: ${problem}` });
  });
export type PriceHistoryUpsert = z.input<typeof priceHistoryUpsertSchema>;

export interface UpsertOutcome {
  id: string;
  created: boolean;
  /** Points with a date the history did not have. */
  added: number;
  /** Points whose date was there with another price or confidence (the new one wins). */
  replaced: number;
  /** Points stored after the merge. */
  points: number;
  /** False when the data was already there (nothing written, `updatedAt` unchanged). */
  written: boolean;
}

/** Read leniently like `productRecordSchema`: a malformed value is a defect, not an error. */
export const storedProductSchema = productRecordSchema.extend({
  collection: z.string().catch(''),
  updatedAt: z.number().catch(0),
  /** The raw payload (payload store id) the latest collection read; gone once cleaned up. */
  rawPayload: z.string().optional().catch(undefined),
});
export type StoredProduct = ProductRecord & {
  id: string;
  collection: string;
  updatedAt: number;
  rawPayload?: string;
};

export interface ProductPage {
  products: StoredProduct[];
  /** Pass as `startAfter` for the next page; null after the last one. */
  next: string | null;
}

export interface ProductsRepositoryOptions {
  now?: () => number;
}

/**
 * `/` cannot appear in a document id and `%` is the escape; everything else stays readable. An
 * id Firestore reserves (`__x__`: a marketplace starting and a key ending with `__`) gets its
 * last `_` escaped too, which the key's decoding undoes.
 */
export function productDocId(marketplace: string, key: string): string {
  const id = `${marketplace}~${key.replace(/[%/]/g, encodeURIComponent)}`;
  return isReservedName(id) ? `${id.slice(0, -1)}%5F` : id;
}

export class ProductsRepository {
  private readonly now: () => number;

  constructor(
    private readonly db: Firestore,
    options: ProductsRepositoryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Merges price points into a product's history by date (a new price for a known date
   * replaces the old one: re-collections correct bad data) and writes only when something
   * changed, so delivering the same data twice is a no-op.
   */
  async upsertPriceHistory(input: PriceHistoryUpsert): Promise<UpsertOutcome> {
    const update = priceHistoryUpsertSchema.parse(input);
    const id = productDocId(update.marketplace, update.key);
    const ref = this.db.collection(PRODUCTS_PATH).doc(id);
    return this.db.runTransaction(
      async (tx) => {
        const snapshot = await tx.get(ref);
        const existing = (snapshot.data() ?? {}) as Record<string, unknown>;
        const merged = mergePricePoints(existing.prices, update.prices);
        const { updatedAt: _, ...before } = existing;
        const after: Record<string, unknown> = {
          ...before,
          marketplace: update.marketplace,
          key: update.key,
          collection: update.collection,
          identifiers: mergeIdentifiers(existing.identifiers, update.identifiers),
          prices: merged.prices,
        };
        if (update.confidence !== undefined) after.confidence = update.confidence;
        if (update.rawPayload !== undefined) after.rawPayload = update.rawPayload;
        if (update.expectedRange) after.expectedRange = update.expectedRange;
        const written = !snapshot.exists || !isDeepStrictEqual(before, after);
        if (written) {
          const data = { ...after, updatedAt: this.now() };
          // A history that outgrew 1 MiB is refused here, naming the product, not by the commit.
          assertWithinLimits(ref.path, data);
          tx.set(ref, data);
        }
        return {
          id,
          created: !snapshot.exists,
          added: merged.added,
          replaced: merged.replaced,
          points: merged.prices.length,
          written,
        };
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
  }

  async get(marketplace: string, key: string): Promise<StoredProduct | undefined> {
    const snapshot = await this.db
      .collection(PRODUCTS_PATH)
      .doc(productDocId(marketplace, key))
      .get();
    return snapshot.exists ? parseProduct(snapshot) : undefined;
  }

  /**
   * Which of these keys of a marketplace the collection has stored already (one batched read):
   * a re-discovered listing page skips them rather than pay for them again.
   */
  async storedBy(
    collection: string,
    marketplace: string,
    keys: readonly string[],
  ): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const refs = keys.map((key) =>
      this.db.collection(PRODUCTS_PATH).doc(productDocId(marketplace, key)),
    );
    const snapshots = await this.db.getAll(...refs, { fieldMask: ['collection'] });
    return new Set(
      keys.filter((_, i) => snapshots[i]!.exists && snapshots[i]!.get('collection') === collection),
    );
  }

  /** One page of a marketplace's products in document-id order (no composite index needed). */
  async listByMarketplace(
    marketplace: string,
    { pageSize = 100, startAfter }: { pageSize?: number; startAfter?: string | null } = {},
  ): Promise<ProductPage> {
    let query = this.db
      .collection(PRODUCTS_PATH)
      .where('marketplace', '==', marketplace)
      .orderBy(FieldPath.documentId())
      .limit(pageSize);
    if (startAfter) query = query.startAfter(startAfter);
    const { docs } = await query.get();
    return {
      products: docs.map(parseProduct),
      next: docs.length === pageSize ? docs[docs.length - 1]!.id : null,
    };
  }

  async listByCollection(collection: string): Promise<StoredProduct[]> {
    const { docs } = await this.db
      .collection(PRODUCTS_PATH)
      .where('collection', '==', collection)
      .orderBy(FieldPath.documentId())
      .get();
    return docs.map(parseProduct);
  }

  /**
   * Every marketplace that has products, sorted. Firestore has no DISTINCT, so this skips from
   * one value to the next: one single-document read per marketplace, whatever the product count.
   */
  async marketplaces(): Promise<string[]> {
    const found: string[] = [];
    const products = this.db.collection(PRODUCTS_PATH);
    for (;;) {
      const last = found[found.length - 1];
      const base = last === undefined ? products : products.where('marketplace', '>', last);
      const { docs } = await base.orderBy('marketplace').select('marketplace').limit(1).get();
      const next = docs[0]?.get('marketplace');
      if (typeof next !== 'string') return found;
      found.push(next);
    }
  }
}

/** The instance's repository on the default app's Firestore. */
export function productsRepository(options: ProductsRepositoryOptions = {}) {
  return new ProductsRepository(instanceDb(), options);
}

type PointInput = z.infer<typeof pointInputSchema>;

/**
 * Stored points plus incoming ones, one per date, oldest first. Stored entries that are not
 * dated objects are kept as they are (validation reports them; a merge must not erase them).
 */
export function mergePricePoints(
  stored: unknown,
  incoming: readonly PointInput[],
): { prices: unknown[]; added: number; replaced: number } {
  const byDate = new Map<string, unknown>();
  const undated: unknown[] = [];
  for (const point of Array.isArray(stored) ? stored : []) {
    const date = (point as { date?: unknown } | null)?.date;
    if (typeof date === 'string' && date !== '') byDate.set(date, point);
    else undated.push(point);
  }
  let added = 0;
  let replaced = 0;
  // Within one delivery the last point of a date wins, as a later delivery would.
  const latest = new Map(incoming.map((point) => [point.date, storablePoint(point)]));
  for (const [date, point] of latest) {
    const current = byDate.get(date);
    if (current === undefined) added++;
    else if (!isDeepStrictEqual(current, point)) replaced++;
    else continue;
    byDate.set(date, point);
  }
  const dated = [...byDate.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, point]) => point);
  return { prices: [...dated, ...undated], added, replaced };
}

/** Firestore rejects undefined fields; an absent confidence is left out. */
function storablePoint({ date, price, confidence }: PointInput): Record<string, unknown> {
  return confidence === undefined ? { date, price } : { date, price, confidence };
}

function mergeIdentifiers(stored: unknown, incoming: Record<string, string>) {
  const merged: Record<string, unknown> =
    stored && typeof stored === 'object' ? { ...(stored as Record<string, unknown>) } : {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value.trim() !== '') merged[name] = value;
  }
  return merged;
}

function parseProduct(snapshot: QueryDocumentSnapshot | DocumentSnapshot): StoredProduct {
  const data = (snapshot.data() ?? {}) as Record<string, unknown>;
  // The id names the product even when a field is damaged, so it still shows in reports.
  const separator = snapshot.id.indexOf('~');
  const fromId = {
    marketplace: snapshot.id.slice(0, Math.max(separator, 0)) || snapshot.id,
    key: decodeKey(snapshot.id.slice(separator + 1)),
  };
  const parsed = storedProductSchema.parse({
    ...data,
    marketplace: nonEmpty(data.marketplace) ?? fromId.marketplace,
    key: nonEmpty(data.key) ?? fromId.key,
  });
  return { ...parsed, id: snapshot.id };
}

/** The inverse of `productDocId`'s escaping; an id written by other code may not decode. */
function decodeKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
