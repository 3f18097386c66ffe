import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  engineWorkPorts,
  type WorkOutcome,
  WorkRunner,
} from '../../../../functions/src/adapters/pipeline/work-runner.ts';
import { cloudTasksAdmin } from '../../../../functions/src/adapters/queues/queue-admin.ts';
import { syncProviderQueues } from '../../../../functions/src/adapters/queues/queue-rates.ts';
import { enqueueTask } from '../../../../functions/src/adapters/queues/task-queue.ts';
import { QuotaEngine } from '../../../../functions/src/adapters/quota/quota-engine.ts';
import { startCollection } from '../../../../functions/src/core/pipeline/collections.ts';
import {
  workItemSchema,
  workQueueName,
} from '../../../../functions/src/core/pipeline/work-items.ts';
import { taskHandler } from '../../../../functions/src/entry/task-handler.ts';
import { testFirestore } from '../../../../functions/test/support/firestore.ts';
import { quietLogger } from '../../../../functions/test/support/quiet-logger.ts';
import { discoverTaskQueues } from '../../../src/emulators/cloud-tasks/discover.ts';
import { LocalCloudTasks, serveCloudTasks } from '../../../src/emulators/cloud-tasks/server.ts';
import { PROJECT_DIR } from '../../../src/stack.ts';

/**
 * What following the quota buys, measured on the production path except the Functions
 * emulator: work items enqueued with firebase-admin on the stack's Cloud Tasks, dispatched to
 * the production task handler and WorkRunner on the real QuotaEngine (embedded Firestore), every
 * item the gate cannot grant now deferred (maxAwaitSeconds 0) and re-enqueued for its time. The
 * same load runs twice on a fresh 4 tokens/s bucket: with the queue at its deploy-time rate
 * (10/s), and with the rate the heartbeat's sync sets (just above 4/s). Deferrals per grant are
 * what the issue asks to fall: tasks dispatched only to be deferred.
 */

quietLogger();

const PROJECT = 'demo-follows-quota';
const ITEMS = 60;
const DEPLOYED = { maxDispatchesPerSecond: 10, maxConcurrentDispatches: 10 };

let tasks: LocalCloudTasks;
let served: Awaited<ReturnType<typeof serveCloudTasks>>;
let target: Server;
let handle: ReturnType<typeof taskHandler> | undefined;
const saved = { ...process.env };

beforeAll(async () => {
  target = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const { data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const id = String(req.headers['x-cloudtasks-taskname']);
      const retryCount = Number(req.headers['x-cloudtasks-taskretrycount']);
      // As firebase-functions' onDispatchHandler builds the request from Cloud Tasks' headers.
      const request = { data, id, retryCount, queueName: 'keepaWork', executionCount: 0 };
      handle!(request as unknown as Parameters<ReturnType<typeof taskHandler>>[0]).then(
        () => res.writeHead(204).end(),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  tasks = new LocalCloudTasks(
    PROJECT,
    discoverTaskQueues(join(PROJECT_DIR, 'functions'), PROJECT),
    (q) => `${url}/${q.functionName}`,
  );
  served = await serveCloudTasks(tasks, '127.0.0.1', 0);
  process.env.TOLLGATE_CLOUD_TASKS_HOST = served.hostPort;
  process.env.CLOUD_TASKS_EMULATOR_HOST = served.hostPort;
  process.env.GCLOUD_PROJECT = PROJECT;
});

afterAll(async () => {
  process.env = saved;
  tasks.stop();
  await new Promise((r) => served.server.close(r));
  await new Promise((r) => target.close(r));
});

/** Keepa with a small bucket, one category with a running collection (so its work is known). */
async function seed(db: Firestore): Promise<void> {
  await db.doc('providers/keepa').set({
    limits: [{ kind: 'tokenBucket', capacity: 10, refillPerSecond: 4 }],
    safetyMarginMs: 0,
    settings: { dealPages: 0 },
  });
  await db.doc('categories/deals').set({ provider: 'keepa', sharePercent: 100 });
  await db.doc('config/flags').set({ maintenance: false, maxAwaitSeconds: 0 });
  const { collection } = startCollection(
    undefined,
    { id: 'deals-2026', provider: 'keepa', category: 'deals', targets: { takealot: 100 } },
    Date.now(),
  );
  await db.doc('collections/deals-2026').set(collection);
}

async function run(follow: boolean) {
  const { db, close } = testFirestore();
  await seed(db);
  const engine = new QuotaEngine(db);
  const outcomes: WorkOutcome[] = [];
  const runner = new WorkRunner(
    engineWorkPorts(engine, (queue, item, options) => enqueueTask(queue, item, options)),
    (kind) => (kind === 'probe' ? async () => undefined : undefined),
    workQueueName,
  );
  handle = taskHandler('keepaWork', workItemSchema, async (item) => {
    outcomes.push(await runner.run(item));
  });
  const admin = cloudTasksAdmin();
  if (follow) await syncProviderQueues({ db, admin, deployed: () => DEPLOYED });
  else await admin.setRate('keepaWork', DEPLOYED);
  const rate = (await admin.status('keepaWork')).maxDispatchesPerSecond;
  const queue = tasks.list().find((q) => q.id === 'keepaWork')!;
  const before = queue.totals.dispatches;
  const started = Date.now();
  const label = follow ? 'follow' : 'deployed';
  for (let i = 0; i < ITEMS; i++) {
    const item = workItemSchema.parse({
      collection: 'deals-2026',
      kind: 'probe',
      key: `${label}-${i}`,
      provider: 'keepa',
      category: 'deals',
    });
    await enqueueTask('keepaWork', item, { id: `${label}-${i}` });
  }
  const deadline = Date.now() + 120_000;
  while (outcomes.filter((o) => o.kind === 'done').length < ITEMS) {
    if (Date.now() > deadline) throw new Error(`${label}: not all items done`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (Date.now() - started) / 1000;
  await engine.shutdown();
  await close();
  const deferred = outcomes.filter((o) => o.kind === 'deferred').length;
  return {
    rate,
    seconds,
    dispatches: queue.totals.dispatches - before,
    deferralsPerGrant: deferred / ITEMS,
  };
}

describe("a provider's work queue following its quota", () => {
  it('dispatches fewer tasks only to be deferred than at its deploy-time rate', async () => {
    const deployed = await run(false);
    const followed = await run(true);
    console.info(
      `deferrals per grant: ${deployed.deferralsPerGrant.toFixed(2)} at ${deployed.rate}/s (deployed), ` +
        `${followed.deferralsPerGrant.toFixed(2)} at ${followed.rate}/s (following the quota); ` +
        `dispatches for ${ITEMS} grants: ${deployed.dispatches} vs ${followed.dispatches}, ` +
        `all done in ${deployed.seconds.toFixed(1)} s vs ${followed.seconds.toFixed(1)} s`,
    );
    expect(deployed.rate).toBe(10);
    // 4 tokens/s for the one active category, its cheapest item 1 token, 1.25 x headroom.
    expect(followed.rate).toBe(5);
    expect(followed.deferralsPerGrant).toBeLessThan(deployed.deferralsPerGrant / 2);
    // Every grant still went through: the queue held back nothing the gate would grant.
    expect(followed.dispatches).toBe(ITEMS * (1 + followed.deferralsPerGrant));
  }, 300_000);
});
