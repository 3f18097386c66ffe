import { REALTIME_SALES_SYNC } from '../../core/pipeline/category-work';
import { workQueueName } from '../../core/pipeline/work-items';
import { db } from '../firebase';
import { connectFleetStats, runsAsFunction } from '../observability/fleet-recorder';
import { registerAutoSyncFetcher } from '../pipeline/autosync-fetchers';
import {
  DISCOVER_KIND,
  discoveryStarter,
  registerBatchStarter,
} from '../pipeline/collection-batches';
import { registerIngestFetchers } from '../pipeline/ingest-fetchers';
import { registerWorkHandler } from '../pipeline/work-handlers';
import type { WorkHandler } from '../pipeline/work-runner';
import { enqueueTask } from '../queues/task-queue';
import { instanceWriteBuffer } from '../storage/instance-write-buffer';
import {
  handleKeepaDeals,
  KEEPA_DEALS_KIND,
  keepaIngestFetchers,
  recollectKeepa,
  startKeepaBatch,
} from './keepa-wiring';
import { PRICE_HISTORY_KIND, RECOLLECT_KIND } from './price-history';
import { handleDiscover, handlePriceHistory } from './smartproxy-wiring';
import { fetchRealtimeSales } from './spapi-wiring';

/**
 * Connects the upstream clients to the pipeline: each client is built from its provider
 * document (base URL, endpoints, settings: changeable at runtime) and its secrets, and
 * registered as the fetchers, work handlers and batch starters the queues and schedules look
 * up. Entry points that run upstream work import this module for its effect.
 */

// Every upstream call of a function instance counts in the fleet statistics (through the
// instance's write buffer, created on first use); tests and tools that load this module do not.
if (runsAsFunction()) connectFleetStats(instanceWriteBuffer);

/** Amazon SP-API vendor real-time sales (defined with the work the share check counts). */
export { REALTIME_SALES_SYNC };
export const REALTIME_SALES_SOURCE = REALTIME_SALES_SYNC.source;

registerAutoSyncFetcher(REALTIME_SALES_SOURCE, fetchRealtimeSales);

/** Validation's re-collections go to whichever upstream the product came from. */
const recollectors: Record<string, WorkHandler> = {
  keepa: recollectKeepa,
  smartproxy: handlePriceHistory,
};

registerIngestFetchers('keepa', keepaIngestFetchers);
registerWorkHandler(KEEPA_DEALS_KIND, handleKeepaDeals);
registerBatchStarter('keepa', startKeepaBatch);
registerWorkHandler(PRICE_HISTORY_KIND, handlePriceHistory);
registerWorkHandler(DISCOVER_KIND, handleDiscover);
registerBatchStarter('smartproxy', (collection, nowMs) =>
  discoveryStarter({ db: db(), enqueue: enqueueTask, queueFor: workQueueName })(collection, nowMs),
);
registerWorkHandler(RECOLLECT_KIND, async (item) => {
  const recollect = recollectors[item.provider];
  if (!recollect) throw new TypeError(`no re-collection for provider "${item.provider}"`);
  return recollect(item);
});
