import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimClock } from '../../../src/core/replay';

/**
 * The simulated clock moves on only once every promise the fired timers started is at rest,
 * however long their chains (the gate's claims await many times), and without a turn of the
 * event loop per instant it still gives the loop a turn every so often (I/O, real timers, a
 * progress bar), so a long replay never holds it.
 */

describe('SimClock', () => {
  it('runs every chain of promises a timer started to rest before the next instant', async () => {
    const clock = new SimClock(0);
    const seen: string[] = [];
    clock.at(10, () => {
      void (async () => {
        for (let i = 0; i < 10_000; i++) await null;
        seen.push('long chain done');
        // What a chain schedules for the same instant runs before time moves on too.
        clock.at(10, () => seen.push(`same instant at ${clock.t}`));
        await clock.sleep(5);
        seen.push(`slept to ${clock.t}`);
      })();
    });
    clock.at(11, () => seen.push(`next instant at ${clock.t}`));
    await clock.runUntil(100);
    expect(seen).toEqual([
      'long chain done',
      'same instant at 10',
      'next instant at 11',
      'slept to 15',
    ]);
  });

  it('lets the event loop turn during a long run', async () => {
    const clock = new SimClock(0);
    let instants = 0;
    for (let t = 1; t <= 20_000; t++) clock.at(t, () => instants++);
    let firedAt: number | undefined;
    setTimeout(() => {
      firedAt = instants;
    }, 0);
    await clock.runUntil(20_000);
    expect(instants).toBe(20_000);
    // A real timer due at once fired long before the run's end.
    expect(firedAt).toBeDefined();
    expect(firedAt!).toBeLessThan(5_000);
  });
});

describe('SimClock under fake timers', () => {
  afterEach(() => vi.useRealTimers());

  it('runs to the end while a test fakes the global timers', async () => {
    const realSetTimeout = globalThis.setTimeout;
    vi.useFakeTimers();
    const clock = new SimClock(0);
    let fired = 0;
    for (let t = 1; t <= 1_000; t++) clock.at(t, () => fired++);
    const outcome = await Promise.race([
      clock.runUntil(1_000).then(() => 'done'),
      new Promise<string>((r) => realSetTimeout(() => r(`hung after ${fired} instants`), 10_000)),
    ]);
    expect(outcome).toBe('done');
    expect(fired).toBe(1_000);
  });
});
