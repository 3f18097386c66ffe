import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PriceHistoryUpsert } from '../../src/adapters/pipeline/price-history-upsert';
import { storedCount } from '../../src/adapters/pipeline/product-count';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import { prng } from '../core/quota/fleet-sim';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * The response buffer for collected products in real processes that are killed: the compiled
 * buffer and repository (functions/lib) run in child processes (support/product-kill-worker.cjs)
 * to which this test plays Cloud Tasks. Each instance is killed, with SIGKILL or SIGTERM in
 * turn, inside one of its flush transactions, sometimes a few milliseconds later so the commit
 * lands and its answer is lost. What it had not acknowledged is delivered again to the next
 * instance, and some deliveries come twice anyway (at least once). After KILLS kills and a
 * healthy drain: every acknowledged point is stored (0 lost), no product is on two documents or
 * counted twice and no date is stored twice (0 applied twice), and every delivered point is
 * stored (0 stranded).
 */

quietLogger();

/** `KILLS=100 npx vitest run ...product-kills` runs the 100; `npm test` runs 24. */
const KILLS = Number(process.env.KILLS ?? 24);
const LIFE_TIMEOUT_MS = 120_000;
const WORKER = join(__dirname, '..', 'support', 'product-kill-worker.cjs');
const COMPILED = join(__dirname, '..', '..', 'lib', 'adapters', 'pipeline', 'product-buffer.js');
const COLLECTION = 'kills';
/** Products deliveries are drawn from: most are collected more than once. */
const PRODUCTS = 30;

interface Delivery {
  id: string;
  product: PriceHistoryUpsert;
}
type Message =
  | { type: 'ready' | 'tx' }
  | { type: 'ack'; id: string }
  | { type: 'nack'; id: string; error: string };

describe('product buffer in killed processes', () => {
  const { db, app, close } = testFirestore();
  afterAll(() => close());

  it(`loses nothing acknowledged, applies nothing twice, strands nothing across ${KILLS} kills`, async () => {
    expect(existsSync(COMPILED), 'build first: npm run build').toBe(true);
    const rand = prng(Number(process.env.KILL_SEED ?? 20261206));
    const pick = <T>(values: readonly T[]): T => values[Math.floor(rand() * values.length)]!;

    const queue: Delivery[] = [];
    const delivered = new Map<string, Map<string, number>>();
    const acknowledged: Delivery[] = [];
    let deliveries = 0;
    const addDelivery = () => {
      const key = `p${Math.floor(rand() * PRODUCTS)}`;
      // A point's price depends on its product and date only: merges are order-free.
      const day = 1 + Math.floor(rand() * 28);
      const date = `2026-02-${String(day).padStart(2, '0')}`;
      const price = (key.length * 31 + day * 7) % 97;
      const product = {
        marketplace: 'takealot',
        key,
        collection: COLLECTION,
        prices: [{ date, price }],
      };
      if (!delivered.has(key)) delivered.set(key, new Map());
      delivered.get(key)!.set(date, price);
      queue.push({ id: `d${deliveries++}`, product });
      if (rand() < 0.15) queue.push({ id: `d${deliveries++}`, product });
    };

    const life = (kill: { signal: NodeJS.Signals; atTx: number; delayMs: number } | null) =>
      new Promise<void>((resolve, reject) => {
        const child: ChildProcess = fork(WORKER, [], {
          env: { ...process.env, KILL_PROJECT_ID: app.options.projectId, LOG_LEVEL: 'silent' },
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        });
        const inFlight = new Map<string, Delivery>();
        let transactions = 0;
        let killed = false;
        const dispatch = () => {
          if (killed) return;
          while (inFlight.size < 6 && queue.length > 0) {
            const delivery = queue.splice(Math.floor(rand() * queue.length), 1)[0]!;
            inFlight.set(delivery.id, delivery);
            child.send({ delivery });
          }
          if (inFlight.size > 0) return;
          if (kill === null)
            child.kill('SIGKILL'); // drained: the healthy instance is done
          else {
            // Drained before its kill came: more work, so the kill still lands mid-flush.
            for (let i = 0; i < 6; i++) addDelivery();
            dispatch();
          }
        };
        child.on('message', (message: Message) => {
          switch (message.type) {
            case 'ready':
              return dispatch();
            case 'tx':
              if (kill && !killed && ++transactions === kill.atTx) {
                killed = true;
                setTimeout(() => child.kill(kill.signal), kill.delayMs);
                // As Cloud Run does: an instance still there 10 s after SIGTERM is killed.
                if (kill.signal === 'SIGTERM') {
                  const grace = setTimeout(() => child.kill('SIGKILL'), kill.delayMs + 10_000);
                  child.on('exit', () => clearTimeout(grace));
                }
              }
              return;
            case 'nack':
              return reject(new Error(`delivery ${message.id} failed: ${message.error}`));
            case 'ack': {
              const delivery = inFlight.get(message.id);
              if (!delivery) return;
              inFlight.delete(message.id);
              acknowledged.push(delivery);
              return dispatch();
            }
          }
        });
        const watchdog = setTimeout(() => {
          reject(
            new Error(
              `an instance's life is stuck: ${JSON.stringify({ kill, transactions, inFlight: inFlight.size, queue: queue.length })}`,
            ),
          );
          child.kill('SIGKILL');
        }, LIFE_TIMEOUT_MS);
        child.on('exit', () => {
          clearTimeout(watchdog);
          // What the instance had not acknowledged is delivered again.
          queue.push(...inFlight.values());
          resolve();
        });
      });

    let kills = 0;
    while (kills < KILLS) {
      while (queue.length < 12) addDelivery();
      await life({
        signal: kills % 2 === 0 ? 'SIGKILL' : 'SIGTERM',
        atTx: 1 + Math.floor(rand() * 4),
        delayMs: pick([0, 0, 1, 3, 8]),
      });
      kills++;
    }
    await life(null);
    expect(queue).toEqual([]);

    const repo = new ProductsRepository(db);
    const stored = new Map((await repo.listByCollection(COLLECTION)).map((p) => [p.key, p]));
    const points = (key: string) =>
      new Map(
        ((stored.get(key)?.prices ?? []) as Array<{ date: string; price: number }>).map((p) => [
          p.date,
          p.price,
        ]),
      );
    let lost = 0;
    for (const { product } of acknowledged) {
      const [point] = product.prices;
      if (points(product.key).get(point!.date) !== point!.price) lost++;
    }
    let stranded = 0;
    for (const [key, dates] of delivered) {
      for (const [date, price] of dates) if (points(key).get(date) !== price) stranded++;
    }
    const { docs } = await db.collection('products').get();
    const ids = docs.flatMap((doc) =>
      doc.get('page') === true ? (doc.get('keys') as string[]) : [doc.id],
    );
    let twice = ids.length - new Set(ids).size;
    for (const product of stored.values()) {
      const dates = (product.prices as Array<{ date: string }>).map((p) => p.date);
      twice += dates.length - new Set(dates).size;
    }
    const counted = await storedCount(db, COLLECTION, 'takealot');
    expect({ kills, lost, stranded, twice, counted }).toEqual({
      kills: KILLS,
      lost: 0,
      stranded: 0,
      twice: 0,
      counted: delivered.size,
    });
    expect(acknowledged.length).toBeGreaterThan(KILLS);
  }, 600_000);
});
