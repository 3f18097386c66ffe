// A price-history upsert: the input checked (marketplace, key, identifiers, dated points) and its
// merge into what is stored, one point per date, so a redelivery changes nothing.
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import {
  documentIdProblem,
  isReservedName,
  refineFieldNames,
} from '../../core/storage/firestore-names';
import { productDocId } from './product-documents';

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
/** An upsert as checked: what is stored. */
export type PriceHistoryUpdate = z.output<typeof priceHistoryUpsertSchema>;

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

export function mergeIdentifiers(stored: unknown, incoming: Record<string, string>) {
  const merged: Record<string, unknown> =
    stored && typeof stored === 'object' ? { ...(stored as Record<string, unknown>) } : {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value.trim() !== '') merged[name] = value;
  }
  return merged;
}
