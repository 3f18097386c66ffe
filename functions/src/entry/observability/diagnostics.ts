import { FieldValue } from 'firebase-admin/firestore';
import { onTaskDispatched } from 'firebase-functions/v2/tasks';
import { z } from 'zod';
import { db } from '../../adapters/firebase';
import { logger } from '../../log';
import { taskHandler } from '../task-handler';
import '../options';

export const diagnosticPayload = z.object({
  probeId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/),
  note: z.string().max(500).optional(),
});

/**
 * A probe through the whole task path (enqueue -> queue -> function -> Firestore): operators
 * and the end-to-end tests enqueue one and watch `diagnostics/{probeId}` appear.
 */
export const diagnostics = onTaskDispatched(
  {
    retryConfig: { maxAttempts: 3, minBackoffSeconds: 1 },
    rateLimits: { maxConcurrentDispatches: 2 },
  },
  taskHandler('diagnostics', diagnosticPayload, async (payload, context) => {
    await db()
      .doc(`diagnostics/${payload.probeId}`)
      .set(
        {
          ranAt: FieldValue.serverTimestamp(),
          runs: FieldValue.increment(1),
          retryCount: context.retryCount,
          note: payload.note ?? null,
        },
        { merge: true },
      );
    logger.info({ probeId: payload.probeId }, 'diagnostic probe ran');
  }),
);
