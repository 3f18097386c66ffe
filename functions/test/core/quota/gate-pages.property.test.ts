import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { categorySchema, flagsSchema, providerSchema } from '../../../src/core/config';
import { Gate } from '../../../src/core/quota/gate';
import type { GateContext } from '../../../src/core/quota/gate-ports';
import { lowestBalance } from '../../quota/grant-log';
import { allocationFor } from './allocation-fixture';

/**
 * Several gates (instances) share one provider through an in-memory claim registry with the
 * same semantics as the Firestore documents: a page is created once, whole or split; blocks of
 * a split page are created once each. Busy instances take whole pages, idle ones split them;
 * whatever the mix, grants must conform to the provider's bucket.
 */
describe('whole and split pages', () => {
  it('never over-spend, whichever instances take pages whole or block by block', async () => {
    const modes = { whole: 0, split: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 20, max: 300 }),
        fc.integer({ min: 5, max: 200 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.record({
            instance: fc.nat(5),
            advanceMs: fc.oneof(
              fc.constant(0),
              fc.integer({ min: 0, max: 30 }),
              fc.integer({ min: 0, max: 3_000 }),
            ),
            cost: fc.integer({ min: 1, max: 4 }),
          }),
          { minLength: 50, maxLength: 400 },
        ),
        async (capacity, rate, blockTokens, instances, steps) => {
          let now = Date.UTC(2026, 5, 1);
          const startMs = now;
          const provider = providerSchema.parse({
            id: 'p',
            limits: [{ kind: 'tokenBucket', capacity, refillPerSecond: rate, blockTokens }],
            safetyMarginMs: 0,
          });
          const context: GateContext = {
            provider,
            category: categorySchema.parse({ id: 'c', provider: 'p', sharePercent: 100 }),
            allocation: allocationFor(provider, { c: 100 }),
            flags: flagsSchema.parse({}),
            cooldownUntilMs: undefined,
          };
          const docs = new Map<string, 'whole' | 'split' | 'block'>();
          const gates = Array.from(
            { length: instances },
            (_, i) =>
              new Gate({
                now: () => now,
                sleep: async () => undefined,
                random: () => ((i * 7919 + now) % 1000) / 1000,
                context: async () => context,
                claim: async (key, ref) => {
                  const id = `${key}/${ref.id}`;
                  if (docs.has(id)) return false;
                  docs.set(id, 'block');
                  return true;
                },
                claimRun: async (key, run) => {
                  const all = [...run.pages, ...run.blocks];
                  const taken = all.filter((r) => docs.has(`${key}/${r.id}`)).map((r) => r.id);
                  if (taken.length > 0) return taken;
                  for (const r of run.blocks) docs.set(`${key}/${r.id}`, 'block');
                  for (const r of run.pages) docs.set(`${key}/${r.id}`, 'whole');
                  modes.whole += run.pages.length;
                  return [];
                },
                claimPage: async (key, page, mode) => {
                  const id = `${key}/${page.id}`;
                  const existing = docs.get(id);
                  if (existing) return existing === 'split' ? 'split' : 'taken';
                  docs.set(id, mode);
                  modes[mode]++;
                  return mode === 'whole' ? 'won' : 'split';
                },
              }),
          );
          const grants: Array<{ atMs: number; cost: number }> = [];
          for (const step of steps) {
            now += step.advanceMs;
            const decision = await gates[step.instance % instances]!.acquire({
              provider: 'p',
              category: 'c',
              cost: Math.min(step.cost, capacity - 2),
              maxWaitMs: 0,
            });
            if (decision.kind === 'granted')
              grants.push({ atMs: decision.atMs, cost: Math.min(step.cost, capacity - 2) });
          }
          expect(
            lowestBalance({ capacity, ratePerSecond: rate }, grants, startMs),
          ).toBeGreaterThanOrEqual(-1e-9);
        },
      ),
      { numRuns: 150 },
    );
    // The property exercised both ways of claiming.
    expect(modes.whole).toBeGreaterThan(0);
    expect(modes.split).toBeGreaterThan(0);
  });
});
