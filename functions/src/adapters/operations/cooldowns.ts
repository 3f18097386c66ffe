import { FieldValue, Timestamp } from 'firebase-admin/firestore';
import type { z } from 'zod';
import {
  type ClearCooldownResult,
  type CooldownStatus,
  type clearCooldownInput,
  notFound,
  type StartCooldownResult,
  type startCooldownInput,
} from '../../core/operations';
import { logger } from '../../log';
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

/**
 * Starts a provider's cooldown by hand (the runbook's "start a cooldown by hand"): until now +
 * `seconds`, or the running cooldown's end if that is later (nothing written then). The same
 * documents a quota error writes (`cooldowns/{provider}`, its history entry), with the reason
 * and the audit entry, in one transaction. Every instance stops calling the provider within its
 * cache time (a second).
 */
export async function startCooldown(
  ctx: OperationContext,
  input: z.output<typeof startCooldownInput>,
): Promise<StartCooldownResult> {
  const { db } = ctx;
  const { provider, seconds, reason } = input;
  const ref = db.collection(QUOTA_COLLECTIONS.cooldowns).doc(provider);
  const result = await db.runTransaction(async (tx) => {
    const [providerSnap, cooldownSnap] = await Promise.all([
      tx.get(db.doc(providerPath(provider))),
      tx.get(ref),
    ]);
    if (!providerSnap.exists) throw notFound('provider', provider, providerPath(provider));
    const now = ctx.now();
    const before = cooldownSnap.data() ?? null;
    const running = before ? cooldownStatus(provider, before, now) : null;
    const active = running !== null && running.untilMs > now;
    const untilMs = now + seconds * 1000;
    if (active && running.untilMs >= untilMs) {
      return { cooldown: running, changed: false, auditId: null };
    }
    const startedAtMs = active ? running.startedAtMs : now;
    const hits = (active ? running.hits : 0) + 1;
    const who = ctx.actor.email ?? ctx.actor.uid;
    const after = {
      provider,
      until: Timestamp.fromMillis(untilMs),
      startedAt: Timestamp.fromMillis(startedAtMs),
      lastOperation: 'manual',
      hits,
      retryAfterSeconds: null,
      message: `started by hand by ${who}: ${reason}`,
    };
    tx.set(ref, after);
    tx.set(
      db.collection(QUOTA_COLLECTIONS.cooldownHistory).doc(docId(provider, String(startedAtMs))),
      {
        provider,
        startedAt: Timestamp.fromMillis(startedAtMs),
        until: Timestamp.fromMillis(untilMs),
        lastOperation: 'manual',
        hits: FieldValue.increment(1),
        startedBy: ctx.actor.uid,
        reason,
      },
      { merge: true },
    );
    const auditId = writeAudit(db, tx, {
      who: ctx.actor,
      what: 'startCooldown',
      target: ref.path,
      before,
      after,
      reason,
      atMs: now,
    });
    return { cooldown: cooldownStatus(provider, after, now), changed: true, auditId };
  });
  if (result.changed) {
    logger.warn(
      {
        provider,
        operation: 'manual',
        until: new Date(result.cooldown.untilMs).toISOString(),
        reason,
        by: ctx.actor.uid,
      },
      'cooldown started',
    );
  }
  return { provider, ...result };
}
