import { onTaskDispatched } from 'firebase-functions/v2/tasks';
import { z } from 'zod';
import { db } from '../../adapters/firebase';
import { recordDiagnosticRun } from '../../adapters/observability/beats';
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
    await recordDiagnosticRun(db(), payload, context.retryCount);
    logger.info({ probeId: payload.probeId }, 'diagnostic probe ran');
  }),
);
