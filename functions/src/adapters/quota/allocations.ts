import type { Firestore } from 'firebase-admin/firestore';
import { z } from 'zod';
import {
  type Category,
  ConfigError,
  categorySchema,
  flagsSchema,
  limitSchema,
  type Provider,
  parseDocument,
  providerSchema,
  validateRuntimeConfig,
} from '../../core/config';
import { type Allocation, nextAllocation } from '../../core/quota/epochs';
import { QUOTA_COLLECTIONS } from './collections';

export { ALLOCATION_LEAD_MS } from '../../core/quota/epochs';

const epochSchema = z.object({ percent: z.number().min(0).max(100), startMs: z.number() });
const limitsEpochSchema = z.object({
  startMs: z.number(),
  limits: z.array(limitSchema),
  safetyMarginMs: z.number().nonnegative(),
  keys: z.array(z.string()),
});
const fixedWindowSchema = z.object({
  windowId: z.string(),
  limit: z.number().positive(),
  blockTokens: z.number().int().positive().nullable(),
  percents: z.record(z.string(), z.number().min(0).max(100)),
});
/** Before epochs, a category kept only the share in force and the one it replaced. */
const legacyShares = z.object({ current: epochSchema, previous: epochSchema.optional() });
const allocationSchema = z.object({
  categories: z.record(
    z.string(),
    z.union([
      z.object({ epochs: z.array(epochSchema) }),
      legacyShares.transform((l) => ({
        epochs: l.previous ? [l.previous, l.current] : [l.current],
      })),
    ]),
  ),
  limits: z.array(limitsEpochSchema).default([]),
  windows: z.record(z.string(), fixedWindowSchema).default({}),
  updatedAtMs: z.number(),
});

/** An allocation document as stored (either format), parsed and validated. */
export function fromDoc(data: unknown): Allocation {
  const doc = allocationSchema.parse(data);
  return {
    ...doc,
    categories: Object.fromEntries(Object.entries(doc.categories).map(([id, c]) => [id, c.epochs])),
  };
}

function toDoc(allocation: Allocation) {
  return {
    ...allocation,
    categories: Object.fromEntries(
      Object.entries(allocation.categories).map(([id, epochs]) => [id, { epochs }]),
    ),
  };
}

/**
 * Publishes the provider's effective shares and limits; returns what changed. A change takes
 * effect after the lead time; an allocation from before limits were published gets its limits
 * as "always in force", under the keys its claims already use.
 *
 * The provider and its categories are read inside the publishing transaction: two share
 * changes publishing at once each publish what Firestore holds when they commit, so the last
 * publication is never one made from a read older than the other change.
 */
export async function publishAllocation(
  db: Firestore,
  providerId: string,
  nowMs: number,
): Promise<{ allocation: Allocation; changed: string[] }> {
  const ref = db.collection(QUOTA_COLLECTIONS.allocations).doc(providerId);
  return db.runTransaction(async (tx) => {
    const [snap, providerSnap, categorySnaps] = await Promise.all([
      tx.get(ref),
      tx.get(db.doc(`${CONFIG_COLLECTIONS.providers}/${providerId}`)),
      tx.get(db.collection(CONFIG_COLLECTIONS.categories).where('provider', '==', providerId)),
    ]);
    if (!providerSnap.exists) {
      throw new ConfigError(`${CONFIG_COLLECTIONS.providers}/${providerId}`, [
        { path: '', message: 'does not exist' },
      ]);
    }
    const provider: Provider = parseDocument(providerSchema, providerSnap.ref.path, {
      id: providerId,
      ...providerSnap.data(),
    });
    const categories = categorySnaps.docs.map((doc) =>
      parseDocument(categorySchema, doc.ref.path, { id: doc.id, ...doc.data() }),
    );
    // The cross-document rules that concern one provider (its shares' sum, among others).
    validateRuntimeConfig({ providers: [provider], categories, flags: flagsSchema.parse({}) });
    const existing = snap.exists ? fromDoc(snap.data()) : undefined;
    const next = nextAllocation(existing, provider, categories, nowMs);
    const written = JSON.stringify(toDoc(next.allocation));
    const before = existing && JSON.stringify(toDoc({ ...existing, updatedAtMs: nowMs }));
    if (written !== before) tx.set(ref, toDoc(next.allocation));
    return next;
  });
}

/** config-repository's CONFIG_PATHS (importing it here would make an import cycle). */
const CONFIG_COLLECTIONS = { providers: 'providers', categories: 'categories' } as const;

export async function readAllocation(
  db: Firestore,
  provider: string,
): Promise<Allocation | undefined> {
  const snap = await db.collection(QUOTA_COLLECTIONS.allocations).doc(provider).get();
  return snap.exists ? fromDoc(snap.data()) : undefined;
}

/**
 * Whether publishing now would change the allocation: a share, a category or a limit the
 * configuration has and the published allocation lacks. A share change is published after its
 * transaction commits; an instance that dies in between leaves it unpublished, and whoever
 * gates the provider next catches it up instead of the twice-daily allocation update.
 */
export function isBehind(
  allocation: Allocation,
  provider: Provider,
  categories: Category[],
  nowMs: number,
): boolean {
  return (
    allocation.limits.length === 0 || // published before limits were
    nextAllocation(allocation, provider, categories, nowMs).changed.length > 0
  );
}
