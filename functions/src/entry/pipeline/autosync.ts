import { onSchedule } from 'firebase-functions/v2/scheduler';
import { db } from '../../adapters/firebase';
import { runAutoSyncCycle } from '../../adapters/pipeline/autosync';
import { autoSyncFetcher } from '../../adapters/pipeline/autosync-fetchers';
import { instanceQuotaEngine } from '../../adapters/quota/instance-quota-engine';
import { secretsOf } from '../../adapters/upstreams/secrets';
import { REALTIME_SALES_SYNC } from '../../adapters/upstreams/wiring';
import { logger } from '../../log';
import '../options';

const TIMEOUT_SECONDS = 540;
/** Chunks stop starting this long before the timeout, so the cycle saves what it stored. */
const BUDGET_MS = 7 * 60_000;
/** A fetch under way stops this long before the timeout: the cycle saves and releases. */
const SAVE_MARGIN_MS = 60_000;

export const realtimeSalesSync = onSchedule(
  {
    schedule: 'every 15 minutes',
    timeZone: 'UTC',
    timeoutSeconds: TIMEOUT_SECONDS,
    secrets: secretsOf('spapi'),
  },
  async () => {
    const { source } = REALTIME_SALES_SYNC;
    const fetchAndStore = autoSyncFetcher(source);
    if (!fetchAndStore) {
      logger.warn(
        { source },
        'auto-sync skipped: no fetcher registered for this source (its upstream adapter registers one)',
      );
      return;
    }
    const startedAt = Date.now();
    const summary = await runAutoSyncCycle({
      ...REALTIME_SALES_SYNC,
      db: db(),
      engine: instanceQuotaEngine(),
      fetchAndStore,
      now: Date.now,
      deadlineMs: startedAt + BUDGET_MS,
      fetchDeadlineMs: startedAt + TIMEOUT_SECONDS * 1000 - SAVE_MARGIN_MS,
    });
    logger.info({ source, ...summary }, 'auto-sync cycle');
  },
);
