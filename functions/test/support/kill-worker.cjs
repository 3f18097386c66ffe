'use strict';
/**
 * One function instance for the kill tests (functions/test/pipeline/aggregation-kills.test.ts):
 * the compiled aggregation store and group-commit buffer (`functions/lib`, what deploys), on the
 * test's Firestore emulator, driven over IPC as Cloud Tasks drives an instance. The parent
 * sends deliveries (a response, or a flush task) and kills this process with SIGKILL or SIGTERM
 * at a transaction it is told of; whatever was in flight is delivered again elsewhere.
 *
 * Messages out: `ready`; `tx` when a transaction starts (the parent picks its moment from
 * these); `enqueue` for a flush task (resolved by the parent's `enqueued`, as Cloud Tasks'
 * create answers); `ack` / `nack` for a delivery.
 */
const { initializeApp } = require('firebase-admin/app');
const { getFirestore } = require('firebase-admin/firestore');
const { AggregationStore } = require('../../lib/adapters/pipeline/aggregation-store.js');
const { flushTaskId } = require('../../lib/adapters/pipeline/aggregation-flush-task.js');
const { WriteBuffer } = require('../../lib/adapters/storage/write-buffer.js');
const { installShutdownFlush } = require('../../lib/adapters/storage/shutdown-flush.js');

const app = initializeApp({ projectId: process.env.KILL_PROJECT_ID }, 'kill-worker');
const db = getFirestore(app);

// Every transaction is announced before it runs, so a kill can land inside any of them.
const runTransaction = db.runTransaction.bind(db);
db.runTransaction = (fn, options) => {
  process.send({ type: 'tx' });
  return runTransaction(fn, options);
};

const buffer = new WriteBuffer(db, { intervalMs: 20 });
// As instanceWriteBuffer does: SIGTERM flushes, then the process ends.
installShutdownFlush(buffer);

const enqueued = new Map();
const store = new AggregationStore(db, {
  config: JSON.parse(process.env.KILL_AGGREGATION_CONFIG),
  stats: buffer,
  scheduleFlush: (workItemId, atMs) =>
    new Promise((resolve) => {
      const taskId = flushTaskId(workItemId, atMs);
      enqueued.set(taskId, resolve);
      process.send({ type: 'enqueue', taskId, workItemId, atMs });
    }),
});

async function handle(delivery) {
  if (delivery.kind === 'response') {
    const result = await store.submitResponse(delivery.response);
    // The delivery's own record through the buffer: durable before the acknowledgement.
    await buffer.update(`killDeliveries/${delivery.id}`, { acknowledged: true });
    return { outcome: result.outcome };
  }
  const result = await store.flushItem(delivery.workItemId);
  return result.outcome === 'not-due'
    ? { outcome: result.outcome, dueAtMs: result.dueAtMs }
    : { outcome: result.outcome };
}

process.on('message', (message) => {
  if (message.type === 'enqueued') {
    enqueued.get(message.taskId)?.();
    enqueued.delete(message.taskId);
    return;
  }
  handle(message.delivery).then(
    (result) => process.send({ type: 'ack', id: message.delivery.id, ...result }),
    (error) => process.send({ type: 'nack', id: message.delivery.id, error: String(error) }),
  );
});

process.send({ type: 'ready' });
