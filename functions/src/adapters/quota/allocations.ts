import type { Firestore } from 'firebase-admin/firestore';
import { z } from 'zod';
import type { Category } from '../../core/config';
import { effectiveShares } from '../../core/quota/allocation';
import type { CategoryShares } from '../../core/quota/limits';
import { QUOTA_COLLECTIONS } from './collections';

const epochSchema = z.object({ percent: z.number().min(0).max(100), startMs: z.number() });
const allocationSchema = z.object({
  categories: z.record(
    z.string(),
    z.object({ current: epochSchema, previous: epochSchema.optional() }),
  ),
  updatedAtMs: z.number(),
});
export type AllocationDoc = z.infer<typeof allocationSchema>;

/**
 * A share change takes effect this long after it is published, so every instance (whose
 * cached view is at most a few seconds old) switches token lines at the same instant.
 */
export const ALLOCATION_LEAD_MS = 15_000;

/** Next allocation for a provider: changed shares start a new epoch after the lead time. */
export function nextAllocation(
  existing: AllocationDoc | undefined,
  categories: Category[],
  nowMs: number,
): { doc: AllocationDoc; changed: string[] } {
  const changed: string[] = [];
  const result: AllocationDoc = { categories: {}, updatedAtMs: nowMs };
  for (const share of effectiveShares(categories)) {
    const before = existing?.categories[share.category];
    if (!before) {
      // First publication: the share has been in force "always", so the bucket starts full.
      result.categories[share.category] = {
        current: { percent: share.percent, startMs: existing ? nowMs + ALLOCATION_LEAD_MS : 0 },
      };
      if (existing) changed.push(share.category);
    } else if (Math.abs(before.current.percent - share.percent) < 1e-9) {
      result.categories[share.category] = before;
    } else {
      const pending = before.current.startMs > nowMs;
      result.categories[share.category] = pending
        ? {
            current: { percent: share.percent, startMs: before.current.startMs },
            previous: before.previous,
          }
        : {
            current: { percent: share.percent, startMs: nowMs + ALLOCATION_LEAD_MS },
            previous: before.current,
          };
      changed.push(share.category);
    }
  }
  return { doc: result, changed };
}

/** Publishes the provider's effective shares from its categories; returns what changed. */
export async function publishAllocation(
  db: Firestore,
  provider: string,
  categories: Category[],
  nowMs: number,
): Promise<{ doc: AllocationDoc; changed: string[] }> {
  const ref = db.collection(QUOTA_COLLECTIONS.allocations).doc(provider);
  return db.runTransaction(async (tx) => {
    const snap = await tx.get(ref);
    const existing = snap.exists ? allocationSchema.parse(snap.data()) : undefined;
    const next = nextAllocation(
      existing,
      categories.filter((c) => c.provider === provider),
      nowMs,
    );
    if (!existing || next.changed.length > 0) tx.set(ref, next.doc);
    return next;
  });
}

export async function readAllocation(
  db: Firestore,
  provider: string,
): Promise<AllocationDoc | undefined> {
  const snap = await db.collection(QUOTA_COLLECTIONS.allocations).doc(provider).get();
  return snap.exists ? allocationSchema.parse(snap.data()) : undefined;
}

export function sharesOf(doc: AllocationDoc, category: string): CategoryShares {
  return doc.categories[category] ?? { current: { percent: 0, startMs: 0 } };
}
