import { onSchedule } from 'firebase-functions/v2/scheduler';
import { payloadStore } from '../../adapters/storage/payload-store';
import { logger } from '../../log';
import '../options';
import { scheduleTimeMs } from '../schedule-time';

/**
 * Daily: removes temporary payloads older than the configured age as of the time the run was
 * scheduled for (see entry/schedule-time.ts): a retry of the slot removes the same set, and since Cloud
 * Scheduler's slot is never after the run, nothing younger than the age; the local stack fires
 * it as of a later day to show what that day's run removes.
 */
export const payloadCleanup = onSchedule(
  { schedule: '30 3 * * *', timeZone: 'UTC' },
  async (event) => {
    const asOf = scheduleTimeMs(event);
    const removed = await payloadStore().cleanupTemporary(asOf);
    logger.info(
      { ...removed, asOf: new Date(asOf).toISOString() },
      'temporary payloads cleaned up',
    );
  },
);
