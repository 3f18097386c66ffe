import { onSchedule } from 'firebase-functions/v2/scheduler';
import { db } from '../../adapters/firebase';
import { runValidation } from '../../adapters/validation/validation-runner';
import { VALIDATION_HOURS, validationRunId } from '../../adapters/validation/validation-schedule';
import { logger } from '../../log';
import '../options';
import { scheduleTimeMs } from '../schedule-time';

/**
 * Twice daily: validates every marketplace's products, stores the findings and pass rates and
 * enqueues re-collections of failing products. The run is named by its schedule slot, so a
 * retried or re-fired execution rewrites the same run and its fixes deduplicate. Fixes that
 * could not be enqueued fail the execution, so it shows as failed and a re-fire retries them.
 */
export const dataValidation = onSchedule(
  { schedule: `0 ${VALIDATION_HOURS.join(',')} * * *`, timeZone: 'UTC', timeoutSeconds: 540 },
  async (event) => {
    // Named by the slot it was scheduled for, not the clock (see entry/schedule-time.ts).
    const summary = await runValidation({
      db: db(),
      now: Date.now,
      runId: validationRunId(scheduleTimeMs(event)),
    });
    if (summary.fixes.failed > 0) {
      logger.error({ runId: summary.runId, fixes: summary.fixes }, 'some fixes were not enqueued');
      throw new Error(`${summary.fixes.failed} fixes of run ${summary.runId} were not enqueued`);
    }
  },
);
