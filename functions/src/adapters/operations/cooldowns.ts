import { Timestamp } from 'firebase-admin/firestore';
import type { z } from 'zod';
import {
  type ClearCooldownResult,
  type CooldownStatus,
  type clearCooldownInput,
  notFound,
} from '../../core/api';
import { docId, QUOTA_COLLECTIONS } from '../quota/collections';
import { writeAudit } from './audit';
import type { OperationContext } from './context';
import { providerPath } from './documents';

function millis(value: unknown): number | null {
  return value instanceof Timestamp ? value.toMillis() : null;
}

/** The cooldown document as the API shows it; a malformed one still shows what it can. */
export function cooldownStatus(
  provider: string,
  data: Record<string, unknown>,
  nowMs: number,
): CooldownStatus {
  const untilMs = millis(data.until) ?? 0;
  return {
    provider,
    untilMs,
    startedAtMs: millis(data.startedAt) ?? 0,
    remainingMs: Math.max(0, untilMs - nowMs),
    lastOperation: String(data.lastOperation ?? ''),
    hits: Number(data.hits ?? 0),
  };
}

/**
 * Ends a provider's cooldown early: deletes `cooldowns/{provider}` and marks its history entry
 * cleared, with the audit entry, in one transaction (CooldownStore.clear's writes, made atomic).
 * Instances see it within their cache time (a second). No cooldown: nothing to write.
 */
export async function clearCooldown(
  ctx: OperationContext,
  input: z.output<typeof clearCooldownInput>,
): Promise<ClearCooldownResult> {
  const { db } = ctx;
  const provider = input.provider;
  const ref = db.collection(QUOTA_COLLECTIONS.cooldowns).doc(provider);
  return db.runTransaction(async (tx) => {
    const [providerSnap, cooldownSnap] = await Promise.all([
      tx.get(db.doc(providerPath(provider))),
      tx.get(ref),
    ]);
    if (!providerSnap.exists && !cooldownSnap.exists) {
      throw notFound('provider', provider, providerPath(provider));
    }
    const now = ctx.now();
    if (!cooldownSnap.exists) return { provider, cleared: false, cooldown: null, auditId: null };

    const data = cooldownSnap.data() ?? {};
    const cooldown = cooldownStatus(provider, data, now);
    tx.delete(ref);
    if (data.startedAt instanceof Timestamp) {
      tx.set(
        db
          .collection(QUOTA_COLLECTIONS.cooldownHistory)
          .doc(docId(provider, String(cooldown.startedAtMs))),
        { provider, clearedAt: Timestamp.fromMillis(now), clearedBy: ctx.actor.uid },
        { merge: true },
      );
    }
    const auditId = writeAudit(db, tx, {
      who: ctx.actor,
      what: 'clearCooldown',
      target: ref.path,
      before: data,
      after: null,
      atMs: now,
    });
    return { provider, cleared: true, cooldown, auditId };
  });
}
