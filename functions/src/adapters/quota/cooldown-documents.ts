import { FieldValue, type Firestore, Timestamp } from 'firebase-admin/firestore';
import { type Cooldown, extendsCooldown, laterCooldownEnd } from '../../core/quota/cooldown';
import type { QuotaExceededError } from '../../core/quota/errors';
import { docId, QUOTA_COLLECTIONS } from './collections';

/** The cooldown documents: `cooldowns/{provider}` and its episodes' history entries. */

export function cooldownRef(db: Firestore, provider: string) {
  return db.collection(QUOTA_COLLECTIONS.cooldowns).doc(provider);
}

export function fromDoc(
  provider: string,
  data: FirebaseFirestore.DocumentData | undefined,
): Cooldown | undefined {
  if (!data) return undefined;
  return {
    provider,
    untilMs: (data.until as Timestamp).toMillis(),
    startedAtMs: (data.startedAt as Timestamp).toMillis(),
    lastOperation: String(data.lastOperation ?? ''),
    hits: Number(data.hits ?? 0),
  };
}

/**
 * Starts or extends the provider's cooldown document for a hit asking `asked`, and counts the hit
 * in its episode's history entry, in one transaction. Writes nothing (`wrote: false`) when the
 * cooldown already ends at or after what the hit asks.
 */
export function writeCooldownHit(
  db: Firestore,
  error: QuotaExceededError,
  asked: number,
  clock: () => number,
): Promise<{ cooldown: Cooldown; wrote: boolean }> {
  const provider = error.provider;
  return db.runTransaction(async (tx) => {
    const snap = await tx.get(cooldownRef(db, provider));
    const current = fromDoc(provider, snap.data());
    const now = clock();
    if (!extendsCooldown(current, asked, now)) {
      return { cooldown: current!, wrote: false };
    }
    const active = current && current.untilMs > now;
    const cooldown: Cooldown = {
      provider,
      untilMs: laterCooldownEnd(current, now, asked),
      startedAtMs: active ? current.startedAtMs : now,
      lastOperation: error.operation,
      hits: (active ? current.hits : 0) + 1,
    };
    tx.set(cooldownRef(db, provider), {
      provider,
      until: Timestamp.fromMillis(cooldown.untilMs),
      startedAt: Timestamp.fromMillis(cooldown.startedAtMs),
      lastOperation: cooldown.lastOperation,
      hits: cooldown.hits,
      // What the upstream asked, as it asked it (the end above is bounded); never Infinity.
      retryAfterSeconds: Number.isFinite(error.retryAfterSeconds)
        ? (error.retryAfterSeconds as number)
        : null,
      message: error.message,
    });
    tx.set(
      db
        .collection(QUOTA_COLLECTIONS.cooldownHistory)
        .doc(docId(provider, String(cooldown.startedAtMs))),
      {
        provider,
        startedAt: Timestamp.fromMillis(cooldown.startedAtMs),
        until: Timestamp.fromMillis(cooldown.untilMs),
        lastOperation: cooldown.lastOperation,
        hits: FieldValue.increment(1),
      },
      { merge: true },
    );
    return { cooldown, wrote: true };
  });
}

/** The provider's newest `limit` cooldown episodes (their history entries), newest first. */
export async function readCooldownHistory(db: Firestore, provider: string, limit: number) {
  const snap = await db
    .collection(QUOTA_COLLECTIONS.cooldownHistory)
    .where('provider', '==', provider)
    .get();
  return snap.docs
    .map((d) => d.data())
    .filter((d) => d.startedAt)
    .sort((a, b) => b.startedAt.toMillis() - a.startedAt.toMillis())
    .slice(0, limit);
}
