import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getFunctions } from 'firebase-admin/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatedServiceAccount } from '../../../../functions/src/adapters/firebase.ts';
import { cloudTasksAdmin } from '../../../../functions/src/adapters/queues/queue-admin.ts';
import {
  enqueueTask,
  MAX_SCHEDULE_AHEAD_MS,
} from '../../../../functions/src/adapters/queues/task-queue.ts';
import { discoverTaskQueues } from '../../../src/emulators/cloud-tasks/discover.ts';
import { LocalCloudTasks, serveCloudTasks } from '../../../src/emulators/cloud-tasks/server.ts';
import { PROJECT_DIR } from '../../../src/stack.ts';

const PROJECT = 'demo-cloud-tasks';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/**
 * The stack's Cloud Tasks, spoken to by the same clients production uses: firebase-admin's
 * taskQueue() to enqueue, and Tollgate's queue administration (adapters/queues/queue-admin.ts, on
 * @google-cloud/tasks) to read stats, change rates, pause, resume and purge.
 */
describe('the local Cloud Tasks, through the production clients', () => {
  const received: Received[] = [];
  let target: Server;
  let tasks: LocalCloudTasks;
  let served: Awaited<ReturnType<typeof serveCloudTasks>>;
  const app = initializeApp(
    { projectId: PROJECT, serviceAccountId: emulatedServiceAccount(PROJECT) },
    'cloud-tasks-api-test',
  );
  const saved = { ...process.env };
  let answer = 204;

  beforeAll(async () => {
    target = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        received.push({
          path: req.url ?? '',
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        });
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    tasks = new LocalCloudTasks(
      PROJECT,
      discoverTaskQueues(join(PROJECT_DIR, 'functions'), PROJECT),
      (q) => `${targetUrl}/${PROJECT}/${q.region}/${q.functionName}`,
    );
    served = await serveCloudTasks(tasks, '127.0.0.1', 0);
    process.env.CLOUD_TASKS_EMULATOR_HOST = served.hostPort;
    process.env.TOLLGATE_CLOUD_TASKS_HOST = served.hostPort;
    process.env.GCLOUD_PROJECT = PROJECT;
  });

  afterAll(async () => {
    process.env = saved;
    tasks.stop();
    await deleteApp(app);
    await new Promise((r) => served.server.close(r));
    await new Promise((r) => target.close(r));
  });

  const queue = (name: string) =>
    getFunctions(app).taskQueue(`locations/us-central1/functions/${name}`);

  async function until(check: () => boolean, ms = 5_000): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('knows every task-queue function, with its deploy-time limits resolved from functions/.env', async () => {
    const names = tasks.list().map((q) => q.id);
    expect(names).toEqual(expect.arrayContaining(['keepaWork', 'smartproxyWork', 'keepaIngest']));
    const status = await cloudTasksAdmin().status('keepaWork');
    expect(status).toMatchObject({
      queue: 'keepaWork',
      state: 'RUNNING',
      tasks: 0,
      oldestTaskAgeSeconds: null,
      maxDispatchesPerSecond: 10,
      maxConcurrentDispatches: 10,
    });
  });

  it('delivers a firebase-admin task to its function as Cloud Tasks does, once per id', async () => {
    await queue('smartproxyWork').enqueue({ hello: 'world' }, { id: 'once-only' });
    await expect(
      queue('smartproxyWork').enqueue({ hello: 'again' }, { id: 'once-only' }),
    ).rejects.toMatchObject({ code: 'functions/task-already-exists' });
    await until(() => received.some((r) => r.path.endsWith('/smartproxyWork')));
    const delivered = received.find((r) => r.path.endsWith('/smartproxyWork'))!;
    expect(delivered.path).toBe(`/${PROJECT}/us-central1/smartproxyWork`);
    expect(delivered.body).toEqual({ data: { hello: 'world' } });
    expect(delivered.headers).toMatchObject({
      // Exactly once: firebase-admin names it too, and the function refuses a joined list.
      'content-type': 'application/json',
      'x-cloudtasks-queuename': 'smartproxyWork',
      'x-cloudtasks-taskname': 'once-only',
      'x-cloudtasks-taskretrycount': '0',
    });
  });

  it('a paused queue holds its tasks and counts them; resumed, it delivers them', async () => {
    const admin = cloudTasksAdmin();
    await admin.pause('keepaWork');
    for (let i = 0; i < 3; i++) await queue('keepaWork').enqueue({ i });
    await new Promise((r) => setTimeout(r, 300));
    expect(received.filter((r) => r.path.endsWith('/keepaWork'))).toHaveLength(0);
    const paused = await admin.status('keepaWork');
    expect(paused).toMatchObject({ state: 'PAUSED', tasks: 3 });
    expect(paused.oldestTaskAgeSeconds).toBeGreaterThanOrEqual(0);
    await admin.resume('keepaWork');
    await until(() => received.filter((r) => r.path.endsWith('/keepaWork')).length === 3);
    const after = await admin.status('keepaWork');
    expect(after).toMatchObject({ state: 'RUNNING', tasks: 0, dispatchedLastMinute: 3 });
  });

  it('a rate change is honoured: one dispatch per second after it', async () => {
    const admin = cloudTasksAdmin();
    await admin.setRate('diagnostics', { maxDispatchesPerSecond: 1, maxConcurrentDispatches: 1 });
    expect(await admin.status('diagnostics')).toMatchObject({
      maxDispatchesPerSecond: 1,
      maxConcurrentDispatches: 1,
    });
    const started = Date.now();
    for (let i = 0; i < 3; i++) await queue('diagnostics').enqueue({ i });
    await until(() => received.filter((r) => r.path.endsWith('/diagnostics')).length === 3);
    // A burst of one, then one a second: the third goes out two seconds after the first.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  });

  it('refuses rates Cloud Tasks refuses, with its error, and changes nothing', async () => {
    const admin = cloudTasksAdmin();
    await expect(
      admin.setRate('smartproxyWork', { maxDispatchesPerSecond: 0, maxConcurrentDispatches: 5 }),
    ).rejects.toThrow(/max_dispatches_per_second|maxDispatchesPerSecond/);
    await expect(
      admin.setRate('smartproxyWork', { maxDispatchesPerSecond: 5, maxConcurrentDispatches: 5001 }),
    ).rejects.toThrow(/maxConcurrentDispatches/);
    await expect(
      admin.setRate('smartproxyWork', { maxDispatchesPerSecond: 501, maxConcurrentDispatches: 5 }),
    ).rejects.toThrow(/maxDispatchesPerSecond/);
    expect(await admin.status('smartproxyWork')).toMatchObject({
      maxDispatchesPerSecond: 10,
      maxConcurrentDispatches: 10,
    });
    await expect(admin.status('noSuchQueue')).rejects.toThrow(/Queue does not exist/);
  });

  it('a purge drops what waits, scheduled tasks included, and says how many', async () => {
    const admin = cloudTasksAdmin();
    await admin.pause('aggregationFlush');
    await queue('aggregationFlush').enqueue({ a: 1 });
    await queue('aggregationFlush').enqueue({ a: 2 }, { scheduleDelaySeconds: 3600 });
    expect(await admin.purge('aggregationFlush')).toBe(2);
    await admin.resume('aggregationFlush');
    await new Promise((r) => setTimeout(r, 300));
    expect(received.filter((r) => r.path.endsWith('/aggregationFlush'))).toHaveLength(0);
    expect((await admin.status('aggregationFlush')).tasks).toBe(0);
  });

  it('retries a failed delivery, telling the function its retry count', async () => {
    answer = 500;
    await queue('keepaIngest').enqueue({ slice: 1 }, { id: 'retried' });
    await until(() => received.some((r) => r.path.endsWith('/keepaIngest')));
    answer = 204;
    // keepaIngest backs off 30 s at first: the retry is waiting, counted in the stats.
    const status = await cloudTasksAdmin().status('keepaIngest');
    expect(status.tasks).toBe(1);
    const [task] = tasks
      .queue(`projects/${PROJECT}/locations/us-central1/queues/keepaIngest`)!
      .tasks();
    expect(task).toMatchObject({ dispatchCount: 1, lastStatus: 500 });
    expect(task!.dueMs - Date.now()).toBeGreaterThan(25_000);
    const stats = await (await fetch(`http://${served.hostPort}/queueStats`)).json();
    expect(stats.keepaIngest).toMatchObject({
      tasksCount: 1,
      added: 1,
      dispatches: 1,
      delivered: 0,
    });
  });

  it('takes a deferral beyond 30 days as an early task that knows its real time', async () => {
    const due = new Date(Date.now() + 40 * 86_400_000);
    expect(
      await enqueueTask('aggregationFlush', { far: true }, { id: 'far-ahead', scheduleTime: due }),
    ).toBe('enqueued');
    const queue = tasks.queue(`projects/${PROJECT}/locations/us-central1/queues/aggregationFlush`)!;
    const task = queue.tasks().find((t) => t.name.endsWith('/far-ahead'))!;
    expect(task.dueMs - Date.now()).toBeLessThanOrEqual(MAX_SCHEDULE_AHEAD_MS);
    expect(task.dueMs - Date.now()).toBeGreaterThan(MAX_SCHEDULE_AHEAD_MS - 60_000);
    // The handler sees the real time and defers it again (entry/task-handler.ts).
    expect(JSON.parse(task.body).data).toEqual({
      payload: { far: true },
      notBefore: due.toISOString(),
    });
    queue.purge();
  });
});
