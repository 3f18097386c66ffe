import fc from 'fast-check';
import type { Firestore } from 'firebase-admin/firestore';
import { afterAll, describe, expect, it } from 'vitest';
import { flushTaskId } from '../../src/adapters/pipeline/aggregation-flush-task';
import { AggregationStore } from '../../src/adapters/pipeline/aggregation-store';
import { defaultAggregationConfig } from '../../src/core/pipeline/aggregation';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/**
 * The aggregation store under instances that die: a delivery of a response may die before or
 * after any of its transactions commits (a SIGKILL; SIGTERM's grace ends the same way for a
 * store that holds nothing in memory), have a commit applied whose answer is lost (the SDK
 * runs the transaction again and sees its own write), or die before its flush task is
 * enqueued. Cloud Tasks redelivers every response until one delivery is acknowledged, and runs
 * each flush task enqueued (deduplicated by id) at its time. Whatever the faults: every
 * acknowledged response is in its item's aggregate or stored late (0 lost), no source counts
 * twice (0 applied twice), and every item is written (0 stranded).
 */

quietLogger();

class Crash extends Error {}

type Fault =
  | { kind: 'none' }
  /** Dies before or after the n-th transaction of the delivery commits, or loses its answer. */
  | { kind: 'transaction'; n: number; when: 'before' | 'after' | 'lost-answer' }
  /** Dies before the flush task is enqueued. */
  | { kind: 'enqueue' };

const fault: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Fault>({ kind: 'none' }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('transaction' as const),
      n: fc.integer({ min: 1, max: 2 }),
      when: fc.constantFrom('before' as const, 'after' as const, 'lost-answer' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'enqueue' }) },
);

/** The instance's Firestore as this delivery sees it: its n-th transaction fails as told. */
function faulty(db: Firestore, f: Fault): Firestore {
  if (f.kind !== 'transaction') return db;
  let calls = 0;
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property !== 'runTransaction') return Reflect.get(target, property, receiver);
      return async (run: (tx: unknown) => Promise<unknown>, options?: object) => {
        calls++;
        if (calls !== f.n) return target.runTransaction(run as never, options);
        if (f.when === 'before') throw new Crash('killed before the commit');
        const result = await target.runTransaction(run as never, options);
        if (f.when === 'after') throw new Crash('killed after the commit');
        // The commit was applied, its answer lost: the SDK runs the function again.
        void result;
        return target.runTransaction(run as never, options);
      };
    },
  });
}

describe('aggregation store under killed instances', () => {
  const { db, close } = testFirestore();
  afterAll(() => close());
  let run = 0;

  it('loses nothing acknowledged, applies nothing twice and strands no item', async () => {
    let kills = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.nat(), fault, fc.integer({ min: 0, max: 20_000 })), {
          minLength: 1,
          maxLength: 60,
        }),
        async (itemCount, sourceCount, steps) => {
          const prefix = `r${run++}`;
          let clock = Date.UTC(2026, 11, 6, 12);
          const tasks = new Map<string, { workItemId: string; atMs: number }>();
          const undelivered: Array<{ workItemId: string; source: string; value: number }> = [];
          for (let i = 0; i < itemCount; i++) {
            for (let s = 0; s < sourceCount; s++) {
              undelivered.push({ workItemId: `${prefix}-i${i}`, source: `s${s}`, value: 10 + s });
            }
          }
          const acknowledged: typeof undelivered = [];
          const deliver = async (index: number, f: Fault) => {
            const [response] = undelivered.splice(index % undelivered.length, 1);
            const store = new AggregationStore(faulty(db, f), {
              config: defaultAggregationConfig,
              stats: { update: async () => {} },
              now: () => clock,
              scheduleFlush: async (workItemId, atMs) => {
                if (f.kind === 'enqueue') throw new Crash('killed before the enqueue');
                tasks.set(flushTaskId(workItemId, atMs), { workItemId, atMs });
              },
            });
            try {
              await store.submitResponse(response!);
              acknowledged.push(response!);
            } catch (error) {
              if (!(error instanceof Crash)) throw error;
              kills++;
              undelivered.push(response!); // Cloud Tasks delivers it again
            }
          };
          for (const [index, f, advanceMs] of steps) {
            if (undelivered.length === 0) break;
            clock += advanceMs;
            await deliver(index, f);
          }
          // The rest are delivered without faults, as retries eventually are.
          while (undelivered.length > 0) await deliver(0, { kind: 'none' });
          // Cloud Tasks runs each enqueued flush at its time, on a healthy instance.
          const healthy = new AggregationStore(db, {
            config: defaultAggregationConfig,
            stats: { update: async () => {} },
            now: () => clock,
            scheduleFlush: async () => {},
          });
          for (const task of [...tasks.values()].sort((a, b) => a.atMs - b.atMs)) {
            clock = Math.max(clock, task.atMs);
            await healthy.flushItem(task.workItemId);
          }

          for (let i = 0; i < itemCount; i++) {
            const id = `${prefix}-i${i}`;
            const aggregate = await healthy.aggregate(id);
            expect(aggregate, `${id} stranded`).toBeDefined();
            const sources = aggregate!.sources as string[];
            expect(new Set(sources).size, `${id} applied twice`).toBe(sources.length);
            expect(aggregate!.responseCount).toBe(sources.length);
            const late = (await healthy.responses(id)).filter((r) => r.late).map((r) => r.source);
            for (const r of acknowledged.filter((a) => a.workItemId === id)) {
              expect(
                sources.includes(r.source) || late.includes(r.source),
                `${id}/${r.source} lost`,
              ).toBe(true);
            }
          }
        },
      ),
      { numRuns: 100, seed: 20261206 },
    );
    // The runs killed instances at every point, well over a hundred times.
    expect(kills).toBeGreaterThanOrEqual(100);
  }, 240_000);
});
