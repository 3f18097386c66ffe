import { FieldValue } from 'firebase-admin/firestore';
import { onSchedule } from 'firebase-functions/v2/scheduler';
import { db } from '../adapters/firebase';
import { logger } from '../log';
import './options';

export const HEARTBEAT_DOC = 'system/heartbeat';

/** Proves the scheduler runs: health reports the last beat. */
export const heartbeat = onSchedule({ schedule: 'every 5 minutes', timeZone: 'UTC' }, async () => {
  await db()
    .doc(HEARTBEAT_DOC)
    .set({ at: FieldValue.serverTimestamp(), beats: FieldValue.increment(1) }, { merge: true });
  logger.info('heartbeat');
});
