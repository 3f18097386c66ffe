import { onTaskDispatched } from 'firebase-functions/v2/tasks';
import { z } from 'zod';
import { db } from '../../adapters/firebase';
import { collectionsRepository } from '../../adapters/pipeline/collections-repository';
import { runIngestSlice } from '../../adapters/pipeline/ingest';
import { ingestFetchers } from '../../adapters/pipeline/ingest-fetchers';
import { INGEST_FUNCTION, rescheduleIngest } from '../../adapters/queues/ingest-queue';
import { instanceQuotaEngine } from '../../adapters/quota/instance-quota-engine';
import { secretsOf } from '../../adapters/upstreams/secrets';
import '../../adapters/upstreams/wiring';
import { logger } from '../../log';
import { taskHandler } from '../task-handler';
import '../options';

export const ingestPayload = z.object({
  collection: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a collection id'),
});

const TIMEOUT_SECONDS = 540;
/** Batches stop starting this long after the slice began, well before the timeout. */
const BUDGET_MS = 7 * 60_000;

/**
 * One ingest slice for a collection (its provider and category from `collections/{id}`). A
 * slice that stops for tokens, the gate, a cooldown or its time budget enqueues the next one
 * for the time it named; the id is deterministic, so a retried task enqueues it once.
 */
export const keepaIngest = onTaskDispatched(
  {
    timeoutSeconds: TIMEOUT_SECONDS,
    secrets: secretsOf('keepa'),
    retryConfig: { maxAttempts: 5, minBackoffSeconds: 30, maxBackoffSeconds: 600 },
    // Slices of one collection exclude each other through the lease; this bounds collections.
    rateLimits: { maxConcurrentDispatches: 4 },
  },
  taskHandler(INGEST_FUNCTION, ingestPayload, async ({ collection }) => {
    const found = await collectionsRepository().get(collection);
    if (!found) {
      logger.warn({ collection }, 'ingest skipped: no such collection');
      return;
    }
    const fetchersFor = ingestFetchers(found.provider);
    if (!fetchersFor) {
      logger.warn(
        { collection, provider: found.provider },
        'ingest skipped: no fetchers registered for this provider (its upstream adapter registers them)',
      );
      return;
    }
    const summary = await runIngestSlice({
      db: db(),
      engine: instanceQuotaEngine(),
      collection,
      provider: found.provider,
      category: found.category,
      fetchers: await fetchersFor(found),
      now: Date.now,
      deadlineMs: Date.now() + BUDGET_MS,
    });
    logger.info({ collection, ...summary }, 'ingest slice');
    if (summary.skipped === undefined && summary.reschedule !== undefined) {
      await rescheduleIngest(collection, summary.reschedule);
    }
  }),
);
