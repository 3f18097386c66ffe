import type { z } from 'zod';
import {
  invalidArgument,
  type PurgeProviderQueuesResult,
  type purgeProviderQueuesInput,
  type QueueStateChange,
} from '../../core/operations';
import { logger } from '../../log';
import { PROVIDER_QUEUES, type QueueSync, syncProviderQueues } from '../queues/queue-rates';
import { writeAudit } from './audit';
import type { OperationContext } from './context';

/** Brings the provider queues in line with the configuration (see queue-rates.ts). */
export async function syncQueues(
  ctx: OperationContext,
  providers?: readonly string[],
): Promise<QueueSync[]> {
  if (!ctx.queues) return [];
  return syncProviderQueues({ db: ctx.db, ...ctx.queues }, providers);
}

/**
 * After a committed share or limit change: the provider's work queue follows the new quota.
 * The change is durable, so a failure is logged, not thrown; the heartbeat catches up.
 */
export async function syncQueuesAfterChange(
  ctx: OperationContext,
  provider: string,
): Promise<void> {
  try {
    const synced = await syncQueues(ctx, [provider]);
    const changed = synced.filter((s) => s.rate || s.state || s.error);
    if (changed.length > 0) logger.info({ provider, queues: changed }, 'provider queues synced');
  } catch (error) {
    logger.warn({ err: error, provider }, 'provider queues not synced after a change');
  }
}

/**
 * Pauses (maintenance on) or resumes every provider queue, through a sync, and reports each
 * queue's state after it.
 */
export async function queueStates(
  ctx: OperationContext,
  maintenance: boolean,
): Promise<QueueStateChange[]> {
  const wanted = maintenance ? 'PAUSED' : 'RUNNING';
  try {
    const synced = await syncQueues(ctx);
    return synced.map((s) =>
      s.error
        ? { queue: s.queue, state: 'UNKNOWN', error: s.error }
        : { queue: s.queue, state: wanted },
    );
  } catch (error) {
    logger.warn({ err: error }, 'provider queues not synced after maintenance mode changed');
    return PROVIDER_QUEUES.map(({ queue }) => ({
      queue,
      state: 'UNKNOWN' as const,
      error: (error as Error).message,
    }));
  }
}

/**
 * Drops every waiting task of a provider's queues (admin only). Cloud Tasks cannot say what a
 * purge dropped, so each queue's count just before is reported and kept in the audit entry.
 */
export async function purgeProviderQueues(
  ctx: OperationContext,
  input: z.output<typeof purgeProviderQueuesInput>,
): Promise<PurgeProviderQueuesResult> {
  const queues = PROVIDER_QUEUES.filter((q) => q.provider === input.provider);
  if (queues.length === 0) {
    const known = [...new Set(PROVIDER_QUEUES.map((q) => q.provider))].join(', ');
    throw invalidArgument([
      { path: 'provider', message: `no task queues for ${input.provider} (those of: ${known})` },
    ]);
  }
  const admin = ctx.queues?.admin;
  const purged = await Promise.all(
    queues.map(async ({ queue }) => {
      if (!admin) return { queue, dropped: 0, error: 'queue administration is not available' };
      try {
        return { queue, dropped: await admin.purge(queue) };
      } catch (error) {
        return { queue, dropped: 0, error: (error as Error).message };
      }
    }),
  );
  const dropped = purged.reduce((sum, q) => sum + q.dropped, 0);
  const batch = ctx.db.batch();
  const auditId = writeAudit(ctx.db, batch, {
    who: ctx.actor,
    what: 'purgeProviderQueues',
    target: `queues/${input.provider}`,
    before: null,
    after: { queues: purged, dropped },
    reason: input.reason,
    atMs: ctx.now(),
  });
  await batch.commit();
  logger.warn({ provider: input.provider, queues: purged, dropped }, 'provider queues purged');
  return { provider: input.provider, queues: purged, dropped, auditId };
}
