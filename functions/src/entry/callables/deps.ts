import { getAuth } from 'firebase-admin/auth';
import { enqueueAggregationFlush } from '../../adapters/aggregation-store';
import { instanceBackupStorage } from '../../adapters/backup-storage';
import { deployedCallerLimit } from '../../adapters/caller-limit-params';
import { batchStarter } from '../../adapters/collection-batches';
import { db, projectId, version } from '../../adapters/firebase';
import type { OperationDeps } from '../../adapters/operations';
import { cloudTasksAdmin } from '../../adapters/queue-admin';
import { instanceCallLimiter } from '../../adapters/quota/call-limiter';
import { enqueueTask } from '../../adapters/task-queue';
import { deployedQueueRate } from '../../adapters/work-queue-params';
import { instanceWriteBuffer } from '../../adapters/write-buffer';

let shared: OperationDeps | undefined;

/** The instance's dependencies: the default app's Firestore and Auth, Cloud Tasks and its queue administration, the buffer, the backup bucket. */
export function instanceDeps(): OperationDeps {
  if (!shared) {
    const firestore = db(); // initializes the default app, which Auth shares
    shared = {
      db: firestore,
      now: Date.now,
      users: getAuth(),
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
