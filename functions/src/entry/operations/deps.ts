import { instanceBackupStorage } from '../../adapters/backup/backup-storage';
import { adminAuth, db, projectId, version } from '../../adapters/firebase';
import type { OperationDeps } from '../../adapters/operations';
import { enqueueAggregationFlush } from '../../adapters/pipeline/aggregation-flush-task';
import { batchStarter } from '../../adapters/pipeline/collection-batches';
import { cloudTasksAdmin } from '../../adapters/queues/queue-admin';
import { enqueueTask } from '../../adapters/queues/task-queue';
import { deployedQueueRate } from '../../adapters/queues/work-queue-params';
import { instanceCallLimiter } from '../../adapters/quota/call-limiter';
import { deployedCallerLimit } from '../../adapters/quota/caller-limit-params';
import { instanceWriteBuffer } from '../../adapters/storage/instance-write-buffer';

let shared: OperationDeps | undefined;

/** The instance's dependencies: the default app's Firestore and Auth, Cloud Tasks and its queue administration, the buffer, the backup bucket. */
export function instanceDeps(): OperationDeps {
  if (!shared) {
    const firestore = db();
    shared = {
      db: firestore,
      now: Date.now,
      users: adminAuth(),
      enqueue: (queue, item, options) => enqueueTask(queue, item, options),
      aggregationStats: instanceWriteBuffer(),
      scheduleFlush: (workItemId, atMs) => enqueueAggregationFlush(workItemId, atMs),
      projectId,
      version,
      queues: { admin: cloudTasksAdmin(), deployed: deployedQueueRate },
      backups: instanceBackupStorage,
      callLimit: instanceCallLimiter(firestore, deployedCallerLimit()),
      startBatch: (collection, nowMs) =>
        batchStarter(collection.provider)?.(collection, nowMs) ?? Promise.resolve(null),
    };
  }
  return shared;
}
