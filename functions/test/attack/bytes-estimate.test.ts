import { describe, expect, it } from 'vitest';
import { CostExceedsLimitError } from '../../src/core/quota/errors';
import { soloGate } from './helpers';

const START = Date.UTC(2026, 11, 3, 12, 0, 1);
const MINUTE = 60_000;

/**
 * The work runner never gives `bytes` (work-runner.ts acquire): the gate estimates them per
 * kind of call from what earlier calls settled (gate.ts amounts/settle). One large response
 * sets the estimate; a call that is refused or deferred never settles, so the estimate can
 * never come down again.
 */
describe('attack: the learned bytes estimate', () => {
  it('one response larger than the window does not get every later call of its kind refused', async () => {
    const { gate, advanceTo, now } = soloGate(
      {
        limits: [{ kind: 'window', unit: 'minute', limit: 100_000, measure: 'bytes' }],
        safetyMarginMs: 100,
      },
      { a: 100 },
      START,
    );
    const ask = { provider: 'p', category: 'a', operation: 'page', maxWaitMs: 0 };
    const first = await gate.acquire(ask);
    expect(first.kind).toBe('granted');
    if (first.kind === 'granted') {
      await first.settle({ bytes: 150_000 }); // one unusually large page
      first.release();
    }
    const outcomes: string[] = [];
    for (let minute = 1; minute <= 5; minute++) {
      advanceTo(START + minute * MINUTE + 1_000);
      try {
        const d = await gate.acquire(ask);
        outcomes.push(d.kind === 'granted' ? 'granted' : `retry ${d.reason} +${d.atMs - now()}ms`);
        if (d.kind === 'granted') {
          await d.settle({ bytes: 10_000 });
          d.release();
        }
      } catch (error) {
        outcomes.push(
          error instanceof CostExceedsLimitError ? `refused: ${error.message}` : String(error),
        );
      }
    }
    console.log('bytes/refused', JSON.stringify(outcomes));
    expect(
      outcomes.filter((o) => o === 'granted').length,
      'calls granted in the next 5 minutes',
    ).toBeGreaterThan(0);
  });

  it('one response larger than the share does not defer every later call of its kind forever', async () => {
    const { gate, advanceTo, now } = soloGate(
      {
        limits: [{ kind: 'window', unit: 'minute', limit: 100_000, measure: 'bytes' }],
        safetyMarginMs: 100,
      },
      { a: 50, b: 50 },
      START,
    );
    const ask = { provider: 'p', category: 'a', operation: 'page', maxWaitMs: 0 };
    const first = await gate.acquire(ask);
    expect(first.kind).toBe('granted');
    if (first.kind === 'granted') {
      await first.settle({ bytes: 70_000 }); // above a's 50,000 a minute, well within the limit
      first.release();
    }
    const outcomes: string[] = [];
    for (let minute = 1; minute <= 30; minute++) {
      advanceTo(START + minute * MINUTE + 1_000);
      const d = await gate.acquire(ask);
      outcomes.push(d.kind === 'granted' ? 'granted' : `retry ${d.reason} +${d.atMs - now()}ms`);
      if (d.kind === 'granted') {
        await d.settle({ bytes: 10_000 });
        d.release();
      }
    }
    console.log('bytes/deferred', JSON.stringify(outcomes.slice(0, 3)), outcomes.length);
    expect(
      outcomes.filter((o) => o === 'granted').length,
      'calls granted in the next 30 minutes',
    ).toBeGreaterThan(0);
  });
});
