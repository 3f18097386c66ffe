import {
  type CollectionConfig,
  DEFAULT_COLLECTION_CONFIG,
} from '../../core/pipeline/collection-schema';
import { db } from '../firebase';
import { installShutdownFlush } from '../storage/shutdown-flush';
import { recordStoredCount } from './collection-progress';
import { loadPipelineConfig } from './pipeline-config';
import { ProductBuffer, reportCreated } from './product-buffer';
import { productsRepository } from './products-repository';
import { ProgressBuffer } from './progress-buffer';
import { onWorkEnded, runningWork } from './running-work';

/**
 * The instance's response buffer for collected products and its coalesced progress: products
 * are stored together (`collections.resultsBatch` or `resultsFlushSeconds`), each flush that
 * created products reports progress once per collection and marketplace, and progress is
 * recorded once per `collections.progressBatch` reports or `progressFlushSeconds`. The
 * heartbeat recounts what an instance took with it; scale-in (SIGTERM) flushes both.
 */
let settings: CollectionConfig = DEFAULT_COLLECTION_CONFIG;
let buffers: { products: ProductBuffer; progress: ProgressBuffer } | undefined;

function refreshSettings(): Promise<void> {
  return loadPipelineConfig(db()).then(
    (config) => {
      settings = config.collections;
    },
    () => undefined,
  );
}

function instanceBuffers() {
  if (buffers) return buffers;
  // The configured sizes and intervals, as soon as they are read (the defaults until then).
  void refreshSettings();
  const progress = new ProgressBuffer(
    async (collection, marketplace) => {
      await recordStoredCount(db(), collection, marketplace);
      await refreshSettings();
    },
    {
      batch: () => settings.progressBatch,
      flushMs: () => settings.progressFlushSeconds * 1000,
    },
  );
  const repository = productsRepository();
  const products = new ProductBuffer((updates) => repository.upsertMany(updates), {
    batch: () => settings.resultsBatch,
    flushMs: () => settings.resultsFlushSeconds * 1000,
    running: runningWork,
    onStored: reportCreated((collection, marketplace) => progress.report(collection, marketplace)),
  });
  // A task ending may leave every other running one waiting on the buffer.
  onWorkEnded(() => products.recheck());
  installShutdownFlush({
    flush: async () => {
      await products.flushAll();
      await progress.flushAll();
    },
  });
  buffers = { products, progress };
  return buffers;
}

/** The instance's product buffer: `upsertPriceHistory` resolves once the product is stored. */
export function instanceProducts() {
  const { products } = instanceBuffers();
  return { upsertPriceHistory: products.upsert.bind(products) };
}
