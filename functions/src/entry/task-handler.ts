import type { Request } from 'firebase-functions/v2/tasks';
import type { z } from 'zod';
import { enqueueTask } from '../adapters/queues/task-queue';
import { earlyByMs, taskEnvelopeSchema } from '../core/queues/task-envelope';
import { logger } from '../log';

export interface TaskContext {
  id: string;
  retryCount: number;
}

/**
 * Wraps a task handler: validates the envelope and payload (a malformed task is logged and
 * dropped, since retrying cannot fix it) and defers a task delivered before its time.
 */
export function taskHandler<S extends z.ZodType>(
  functionName: string,
  schema: S,
  handle: (payload: z.infer<S>, context: TaskContext) => Promise<void>,
) {
  return async (request: Request<unknown>): Promise<void> => {
    const envelope = taskEnvelopeSchema.safeParse(request.data);
    const payload = envelope.success ? schema.safeParse(envelope.data.payload) : undefined;
    if (!envelope.success || !payload?.success) {
      const error = envelope.success ? payload?.error : envelope.error;
      logger.error({ functionName, issues: error?.issues }, 'dropping malformed task');
      return;
    }
    const context = { id: request.id, retryCount: request.retryCount };
    const early = earlyByMs(envelope.data, new Date());
    if (early > 0) {
      logger.info({ functionName, id: request.id, early }, 'task arrived early; deferring');
      await enqueueTask(functionName, envelope.data.payload, {
        id: `${request.id}-deferred`,
        scheduleTime: new Date(envelope.data.notBefore!),
      });
      return;
    }
    await handle(payload.data, context);
  };
}
