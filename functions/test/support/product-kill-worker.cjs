'use strict';
/**
 * One function instance for the product kill test (functions/test/pipeline/product-kills.test.ts):
 * the compiled response buffer and products repository (`functions/lib`, what deploys), on the
 * test's Firestore emulator, driven over IPC as Cloud Tasks drives an instance. The parent sends
 * deliveries (a collected product's points) and kills this process with SIGKILL or SIGTERM at a
 * transaction it is told of; whatever was not acknowledged is delivered again elsewhere.
 *
 * Messages out: `ready`; `tx` when a transaction starts; `ack` / `nack` for a delivery, sent only
 * once its product is committed (as a task handler answers only then).
 */
const { initializeApp } = require('firebase-admin/app');
const { getFirestore } = require('firebase-admin/firestore');
const { ProductBuffer } = require('../../lib/adapters/pipeline/product-buffer.js');
const { ProductsRepository } = require('../../lib/adapters/pipeline/products-repository.js');
const { installShutdownFlush } = require('../../lib/adapters/storage/shutdown-flush.js');

const app = initializeApp({ projectId: process.env.KILL_PROJECT_ID }, 'product-kill-worker');
const db = getFirestore(app);

// Every transaction is announced before it runs, so a kill can land inside any of them.
const runTransaction = db.runTransaction.bind(db);
db.runTransaction = (fn, options) => {
  process.send({ type: 'tx' });
  return runTransaction(fn, options);
};

const repository = new ProductsRepository(db);
const buffer = new ProductBuffer((updates) => repository.upsertMany(updates), {
  batch: () => 3,
  flushMs: () => 40,
});
// As the instance does: SIGTERM stores what the buffer holds, then the process ends.
installShutdownFlush({ flush: () => buffer.flushAll() });

process.on('message', ({ delivery }) => {
  buffer.upsert(delivery.product).then(
    () => process.send({ type: 'ack', id: delivery.id }),
    (error) => process.send({ type: 'nack', id: delivery.id, error: String(error) }),
  );
});

process.send({ type: 'ready' });
