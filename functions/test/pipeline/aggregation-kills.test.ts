import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AggregationStore } from '../../src/adapters/pipeline/aggregation-store';
import { aggregationConfigSchema } from '../../src/core/pipeline/aggregation';
import { prng } from '../core/quota/fleet-sim';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * The aggregation store and the group-commit buffer in real processes that are killed: the
 * compiled code (functions/lib) runs in child processes (support/kill-worker.cjs) that Cloud
 * Tasks' part is played to here. Each instance is killed, with SIGKILL or SIGTERM in turn,
 * inside one of its transactions (a response's store, a quorum or timeout flush), sometimes a
 * few milliseconds later so the commit lands and its answer is lost. What it had in flight is
 * delivered again to the next instance; flush tasks it enqueued run at their time, deduplicated
 * by id. After KILLS kills and a healthy drain: every acknowledged response is in its item's
 * aggregate or stored late (0 lost), no source counts twice (0 applied twice), every item is
 * written (0 stranded), and every acknowledged delivery's buffered write is durable.
 */

quietLogger();

/**
 * `npm run kills` runs the 100 (about five minutes: an instance killed inside a
 * transaction holds its locks until the emulator lets them go, as Firestore does); `npm test`
 * runs 24.
 */
const KILLS = Number(process.env.KILLS ?? 24);
/** One instance's life takes seconds; one still going after this is stuck. */
const LIFE_TIMEOUT_MS = 120_000;
const WORKER = join(__dirname, '..', 'support', 'kill-worker.cjs');
const COMPILED = join(__dirname, '..', '..', 'lib', 'adapters', 'pipeline', 'aggregation-store.js');
/** Short times so timeout flushes happen during the run; quorum of 3 sources. */
const CONFIG = aggregationConfigSchema.parse({ minResponses: 3, timeoutSeconds: 0.4 });

interface Response {
  workItemId: string;
  source: string;
  value: number;
}
type Delivery =
  | { id: string; kind: 'response'; response: Response }
  | { id: string; kind: 'flush'; workItemId: string; atMs: number };

type Message =
  | { type: 'ready' | 'tx' }
  | { type: 'enqueue'; taskId: string; workItemId: string; atMs: number }
  | { type: 'ack'; id: string; outcome: string; dueAtMs?: number }
  | { type: 'nack'; id: string; error: string };

describe('aggregation store in killed processes', () => {
  const { db, app, close } = testFirestore();
  afterAll(() => close());

  it(`loses nothing acknowledged, applies nothing twice, strands nothing across ${KILLS} kills`, async () => {
    expect(existsSync(COMPILED), 'build first: npm run build').toBe(true);
    // Deterministic, so a failing run can be replayed from its seed.
    const rand = prng(Number(process.env.KILL_SEED ?? 20261206));
    const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)]!;

    const queue: Delivery[] = [];
    const flushTasks = new Map<string, { workItemId: string; atMs: number }>();
    const acknowledged: Response[] = [];
    const acknowledgedIds: string[] = [];
    const items: string[] = [];
    let deliveries = 0;
    const addItem = () => {
      const workItemId = `item-${items.length}`;
      items.push(workItemId);
      // 1 to 4 sources: one or two are written by the timeout, three or four by the quorum.
      const sources = 1 + Math.floor(rand() * 4);
      for (let s = 0; s < sources; s++) {
        const response = { workItemId, source: `s${s}`, value: 100 + s };
        queue.push({ id: `r${deliveries++}`, kind: 'response', response });
        // Cloud Tasks delivers at least once: some responses come twice anyway.
        if (rand() < 0.15) queue.push({ id: `r${deliveries++}`, kind: 'response', response });
      }
    };
    /** Flush tasks whose time has come join the queue (a task is delivered until acked). */
    const releaseDueFlushes = () => {
      const now = Date.now();
      for (const [taskId, task] of flushTasks) {
        if (task.atMs > now) continue;
        flushTasks.delete(taskId);
        queue.push({ id: taskId, kind: 'flush', ...task });
      }
    };

    /** One instance's life: deliveries until it is killed (or, when `kill` is null, the end). */
    const life = (kill: { signal: NodeJS.Signals; atTx: number; delayMs: number } | null) =>
      new Promise<void>((resolve, reject) => {
        const child: ChildProcess = fork(WORKER, [], {
          env: {
            ...process.env,
            KILL_PROJECT_ID: app.options.projectId,
            KILL_AGGREGATION_CONFIG: JSON.stringify(CONFIG),
            LOG_LEVEL: 'silent',
          },
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        });
        const inFlight = new Map<string, Delivery>();
        let transactions = 0;
        let killed = false;
        let idle: NodeJS.Timeout | undefined;
        const dispatch = () => {
          if (killed) return;
          releaseDueFlushes();
          while (inFlight.size < 4 && queue.length > 0) {
            const delivery = queue.splice(Math.floor(rand() * queue.length), 1)[0]!;
            inFlight.set(delivery.id, delivery);
            child.send({ delivery });
          }
          if (inFlight.size === 0 && queue.length === 0) {
            if (flushTasks.size === 0) {
              if (kill === null)
                child.kill('SIGKILL'); // drained: the healthy instance is done
              else {
                // Drained before its kill came: more work, so the kill still lands mid-flush
                // (an idle instance waiting for a kill that never comes hung the test).
                addItem();
                dispatch();
              }
              return;
            }
            // Waiting for a flush task's time.
            idle = setTimeout(dispatch, 25);
          }
        };
        const die = () => {
          if (killed || kill === null) return;
          killed = true;
          setTimeout(() => child.kill(kill.signal), kill.delayMs);
          // As Cloud Run does: an instance still there 10 s after SIGTERM is killed.
          if (kill.signal === 'SIGTERM') {
            const grace = setTimeout(() => child.kill('SIGKILL'), kill.delayMs + 10_000);
            child.on('exit', () => clearTimeout(grace));
          }
        };
        child.on('message', (message: Message) => {
          switch (message.type) {
            case 'ready':
              return dispatch();
            case 'tx':
              if (kill && ++transactions === kill.atTx) die();
              return;
            case 'enqueue':
              // Sent by a live process: Cloud Tasks has it, whatever is about to kill the sender
              // (dropping it here would lose a task Cloud Tasks said it created).
              flushTasks.set(message.taskId, message);
              child.send({ type: 'enqueued', taskId: message.taskId });
              return;
            case 'nack':
              return reject(new Error(`delivery ${message.id} failed: ${message.error}`));
            case 'ack': {
              const delivery = inFlight.get(message.id);
              if (!delivery) return;
              inFlight.delete(message.id);
              if (delivery.kind === 'response') {
                acknowledged.push(delivery.response);
                acknowledgedIds.push(delivery.id);
              } else if (message.outcome === 'not-due') {
                // As the flush function does: come back when it is due.
                flushTasks.set(`${delivery.id}~again`, {
                  workItemId: delivery.workItemId,
                  atMs: message.dueAtMs!,
                });
              }
              return dispatch();
            }
          }
        });
        // A life that neither ends nor progresses fails with its state instead of hanging.
        const watchdog = setTimeout(() => {
          const state = { kill, killed, transactions, inFlight: inFlight.size };
          const waiting = { queue: queue.length, flushTasks: flushTasks.size };
          reject(
            new Error(`an instance's life is stuck: ${JSON.stringify({ ...state, ...waiting })}`),
          );
          child.kill('SIGKILL');
        }, LIFE_TIMEOUT_MS);
        child.on('exit', () => {
          clearTimeout(watchdog);
          clearTimeout(idle);
          // What the instance had not acknowledged is delivered again.
          queue.push(...inFlight.values());
          resolve();
        });
      });

    let kills = 0;
    while (kills < KILLS) {
      while (queue.length < 8) addItem();
      await life({
        signal: kills % 2 === 0 ? 'SIGKILL' : 'SIGTERM',
        atTx: 1 + Math.floor(rand() * 10),
        delayMs: pick([0, 0, 1, 3, 8]),
      });
      kills++;
    }
    await life(null);
    expect(queue).toEqual([]);

    const store = new AggregationStore(db, {
      config: CONFIG,
      stats: { update: async () => {} },
      scheduleFlush: async () => {},
    });
    let stranded = 0;
    let twice = 0;
    let lost = 0;
    for (const id of items) {
      const aggregate = await store.aggregate(id);
      if (!aggregate) {
        stranded++;
        continue;
      }
      const sources = aggregate.sources as string[];
      if (new Set(sources).size !== sources.length || aggregate.responseCount !== sources.length)
        twice++;
      const late = (await store.responses(id)).filter((r) => r.late).map((r) => r.source);
      for (const r of acknowledged.filter((a) => a.workItemId === id)) {
        if (!sources.includes(r.source) && !late.includes(r.source)) lost++;
      }
    }
    const records = await db.getAll(...acknowledgedIds.map((id) => db.doc(`killDeliveries/${id}`)));
    const bufferLost = records.filter((r) => !r.exists).length;
    expect({ kills, stranded, twice, lost, bufferLost }).toEqual({
      kills: KILLS,
      stranded: 0,
      twice: 0,
      lost: 0,
      bufferLost: 0,
    });
    expect(acknowledged.length).toBeGreaterThan(KILLS / 2);
  }, 600_000);
});
