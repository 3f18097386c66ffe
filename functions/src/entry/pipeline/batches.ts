import { onSchedule } from 'firebase-functions/v2/scheduler';
import { db } from '../../adapters/firebase';
import { runCollectionBatches } from '../../adapters/pipeline/collection-batches';
import '../../adapters/upstreams/wiring';
import { logger } from '../../log';
import '../options';

/**
 * Four times a day: every running historical collection hands out its next batch of work
 * (discovery pages, deal scans) to its provider's task queue, where the gate paces it.
 */
export const collectionBatches = onSchedule(
  { schedule: '0 0,6,12,18 * * *', timeZone: 'UTC' },
  async () => {
    const summaries = await runCollectionBatches(db(), Date.now());
    logger.info({ summaries }, 'collection batches handed out');
    if (summaries.some((s) => s.outcome === 'failed')) {
      throw new Error('a collection batch failed (see the log above)');
    }
  },
);
