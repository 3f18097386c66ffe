import { describe, expect, it } from 'vitest';
import { completion } from '../../../src/core/pipeline/collection-completion';
import {
  isStalled,
  markStalled,
  pauseCollection,
  restartStalled,
  resumeCollection,
} from '../../../src/core/pipeline/collection-lifecycle';
import {
  type Collection,
  collectionConfigSchema,
  collectionSchema,
  DEFAULT_COLLECTION_CONFIG,
  type StartCollectionRequest,
  startCollectionRequestSchema,
} from '../../../src/core/pipeline/collection-schema';
import {
  CollectionConflictError,
  recordProgress,
  startCollection,
} from '../../../src/core/pipeline/collections';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const request: StartCollectionRequest = startCollectionRequestSchema.parse({
  id: 'buckcheap-takealot',
  provider: 'smartproxy',
  category: 'buckcheap-historical',
  targets: { takealot: 800 },
});

function started(targets: Record<string, number> = { takealot: 800 }): Collection {
  return startCollection(undefined, { ...request, targets }, T0).collection;
}

describe('starting a collection', () => {
  it('creates it running in phase 1 and asks for the phase 1 share', () => {
    const outcome = startCollection(undefined, request, T0);
    expect(outcome.created).toBe(true);
    expect(outcome.collection).toMatchObject({
      id: 'buckcheap-takealot',
      marketplaces: { takealot: { target: 800, collected: 0 } },
      phase: 1,
      status: 'running',
      startedAt: T0,
      lastUpdateAt: T0,
      phaseHistory: [{ phase: 1, sharePercent: 15, at: T0 }],
    });
    expect(outcome.transition).toMatchObject({ from: 0, to: 1, sharePercent: 15 });
    // The document round-trips through its schema (what the repository validates on read).
    expect(collectionSchema.parse(outcome.collection)).toEqual(outcome.collection);
  });

  it('only updates the target of one that runs: counts, phase and start stay', () => {
    let c = started();
    c = recordProgress(c, { marketplace: 'takealot', collected: 300 }, T0 + HOUR).collection;
    const again = startCollection(c, { ...request, targets: { takealot: 1000 } }, T0 + 2 * HOUR);
    expect(again.created).toBe(false);
    expect(again.transition).toBeNull();
    expect(again.collection).toMatchObject({
      marketplaces: { takealot: { target: 1000, collected: 300 } },
      phase: 2,
      startedAt: T0,
      lastUpdateAt: T0 + 2 * HOUR,
      phaseHistory: c.phaseHistory,
    });
  });

  it('is a no-op when repeated with the same request', () => {
    const c = started();
    const again = startCollection(c, request, T0 + HOUR);
    expect(again).toMatchObject({ changed: false, created: false, transition: null });
    expect(again.collection).toBe(c);
  });

  it('adds a marketplace without touching the others', () => {
    let c = started();
    c = recordProgress(c, { marketplace: 'takealot', collected: 100 }, T0 + HOUR).collection;
    c = startCollection(c, { ...request, targets: { amazon: 200 } }, T0 + 2 * HOUR).collection;
    expect(c.marketplaces).toEqual({
      takealot: { target: 800, collected: 100 },
      amazon: { target: 200, collected: 0 },
    });
  });

  it('moves the phase forward when a lowered target raises the completion', () => {
    let c = started();
    c = recordProgress(c, { marketplace: 'takealot', collected: 200 }, T0 + HOUR).collection;
    const lowered = startCollection(c, { ...request, targets: { takealot: 400 } }, T0 + 2 * HOUR);
    expect(lowered.collection.phase).toBe(2);
    expect(lowered.transition).toMatchObject({ from: 1, to: 2, sharePercent: 10 });
  });

  it('runs a completed collection again when its target is raised', () => {
    let c = started();
    c = recordProgress(c, { marketplace: 'takealot', collected: 800 }, T0 + HOUR).collection;
    expect(c.status).toBe('completed');
    c = startCollection(c, { ...request, targets: { takealot: 900 } }, T0 + 5 * HOUR).collection;
    expect(c).toMatchObject({ status: 'running', phase: 4, lastProgressAt: T0 + 5 * HOUR });
  });

  it('refuses the same id for another provider or category', () => {
    const c = started();
    expect(() => startCollection(c, { ...request, category: 'other' }, T0)).toThrow(
      CollectionConflictError,
    );
    expect(() => startCollection(c, { ...request, provider: 'keepa' }, T0)).toThrow(/provider/);
  });

  it('validates requests', () => {
    expect(startCollectionRequestSchema.safeParse({ ...request, targets: {} }).success).toBe(false);
    expect(
      startCollectionRequestSchema.safeParse({ ...request, targets: { takealot: 0 } }).success,
    ).toBe(false);
    expect(startCollectionRequestSchema.safeParse({ ...request, id: 'Bad Id' }).success).toBe(
      false,
    );
  });

  it('uses a schedule of its own when the request carries one', () => {
    const phases = [
      { fromPercent: 0, sharePercent: 40 },
      { fromPercent: 50, sharePercent: 20 },
    ];
    const outcome = startCollection(undefined, { ...request, phases }, T0);
    expect(outcome.transition?.sharePercent).toBe(40);
    const half = recordProgress(
      outcome.collection,
      { marketplace: 'takealot', collected: 400 },
      T0,
    );
    expect(half.transition).toMatchObject({
      from: 1,
      to: 2,
      previousSharePercent: 40,
      sharePercent: 20,
    });
  });
});

describe('recording progress', () => {
  it('walks the four runbook phases with their shares and times', () => {
    let c = started();
    const transitions = [];
    for (const [collected, at] of [
      [100, 1],
      [239, 2],
      [240, 3],
      [599, 4],
      [600, 5],
      [759, 6],
      [760, 7],
      [800, 8],
    ] as const) {
      const outcome = recordProgress(c, { marketplace: 'takealot', collected }, T0 + at * HOUR);
      c = outcome.collection;
      if (outcome.transition) transitions.push(outcome.transition);
    }
    expect(
      transitions.map((t) => [t.from, t.to, t.previousSharePercent, t.sharePercent, t.at]),
    ).toEqual([
      [1, 2, 15, 10, T0 + 3 * HOUR],
      [2, 3, 10, 7, T0 + 5 * HOUR],
      [3, 4, 7, 4.2, T0 + 7 * HOUR],
    ]);
    expect(c.phaseHistory).toEqual([
      { phase: 1, sharePercent: 15, at: T0 },
      { phase: 2, sharePercent: 10, at: T0 + 3 * HOUR },
      { phase: 3, sharePercent: 7, at: T0 + 5 * HOUR },
      { phase: 4, sharePercent: 4.2, at: T0 + 7 * HOUR },
    ]);
    expect(c.status).toBe('completed');
  });

  it('records every phase a jump passes, and applies the last share', () => {
    const outcome = recordProgress(started(), { marketplace: 'takealot', added: 700 }, T0 + HOUR);
    expect(outcome.transition).toMatchObject({
      from: 1,
      to: 3,
      previousSharePercent: 15,
      sharePercent: 7,
    });
    expect(outcome.collection.phaseHistory.map((h) => [h.phase, h.sharePercent])).toEqual([
      [1, 15],
      [2, 10],
      [3, 7],
    ]);
  });

  it('takes absolute counts idempotently and never lowers them', () => {
    let c = started();
    c = recordProgress(c, { marketplace: 'takealot', collected: 100 }, T0 + HOUR).collection;
    const repeat = recordProgress(c, { marketplace: 'takealot', collected: 100 }, T0 + 2 * HOUR);
    expect(repeat.collection.marketplaces.takealot!.collected).toBe(100);
    expect(repeat.collection.lastProgressAt).toBe(T0 + HOUR);
    expect(repeat.collection.lastUpdateAt).toBe(T0 + 2 * HOUR);
    const stale = recordProgress(c, { marketplace: 'takealot', collected: 50 }, T0 + 2 * HOUR);
    expect(stale.collection.marketplaces.takealot!.collected).toBe(100);
  });

  it('adds deltas', () => {
    let c = started();
    c = recordProgress(c, { marketplace: 'takealot', added: 10 }, T0 + HOUR).collection;
    c = recordProgress(c, { marketplace: 'takealot', added: 15 }, T0 + HOUR).collection;
    expect(c.marketplaces.takealot!.collected).toBe(25);
  });

  it('rejects unknown marketplaces and bad counts', () => {
    const c = started();
    expect(() => recordProgress(c, { marketplace: 'amazon', added: 1 }, T0)).toThrow(
      CollectionConflictError,
    );
    expect(() => recordProgress(c, { marketplace: 'takealot', added: -1 }, T0)).toThrow(RangeError);
    expect(() => recordProgress(c, { marketplace: 'takealot', collected: 1.5 }, T0)).toThrow(
      RangeError,
    );
  });

  it('completes only when every marketplace reaches its target', () => {
    let c = started({ takealot: 100, amazon: 100 });
    let outcome = recordProgress(c, { marketplace: 'takealot', collected: 150 }, T0 + HOUR);
    c = outcome.collection;
    // 150 of 100 counts as 100: one marketplace cannot make up for another.
    expect(completion(c).overall).toEqual({ target: 200, collected: 100, percent: 50 });
    expect(c.phase).toBe(2);
    expect(outcome.completedNow).toBe(false);
    outcome = recordProgress(c, { marketplace: 'amazon', collected: 100 }, T0 + 2 * HOUR);
    expect(outcome.completedNow).toBe(true);
    expect(outcome.collection.status).toBe('completed');
    // Later reports are recorded, the status stays.
    const later = recordProgress(
      outcome.collection,
      { marketplace: 'amazon', added: 5 },
      T0 + 3 * HOUR,
    );
    expect(later).toMatchObject({ completedNow: false, collection: { status: 'completed' } });
  });

  it('reports completion per marketplace and overall', () => {
    let c = started({ takealot: 800, amazon: 200 });
    c = recordProgress(c, { marketplace: 'takealot', collected: 200 }, T0).collection;
    c = recordProgress(c, { marketplace: 'amazon', collected: 50 }, T0).collection;
    expect(completion(c)).toEqual({
      overall: { target: 1000, collected: 250, percent: 25 },
      marketplaces: [
        { marketplace: 'amazon', target: 200, collected: 50, percent: 25 },
        { marketplace: 'takealot', target: 800, collected: 200, percent: 25 },
      ],
      done: false,
    });
  });

  it('keeps a small ring of rate samples', () => {
    const config = collectionConfigSchema.parse({
      rateWindowMinutes: 60,
      sampleIntervalMinutes: 15,
    });
    let c = startCollection(undefined, request, T0, config).collection;
    for (let minute = 1; minute <= 600; minute++) {
      c = recordProgress(
        c,
        { marketplace: 'takealot', added: 1 },
        T0 + minute * MINUTE,
        config,
      ).collection;
      expect(c.samples.length).toBeLessThanOrEqual(60 / 15 + 2);
    }
    const times = c.samples.map((s) => s.at);
    expect(times[0]).toBeLessThanOrEqual(T0 + 540 * MINUTE);
    expect(times.at(-1)).toBe(T0 + 600 * MINUTE);
    for (let i = 1; i < times.length; i++)
      expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(15 * MINUTE);
  });
});

describe('stalls', () => {
  const config = DEFAULT_COLLECTION_CONFIG;

  it('marks a running collection stalled after two hours without progress', () => {
    let c = started();
    c = recordProgress(c, { marketplace: 'takealot', collected: 100 }, T0 + HOUR).collection;
    // Reports without new data are no progress.
    c = recordProgress(c, { marketplace: 'takealot', collected: 100 }, T0 + 2 * HOUR).collection;
    expect(isStalled(c, T0 + 3 * HOUR - 1, config)).toBe(false);
    expect(markStalled(c, T0 + 3 * HOUR - 1).stalledNow).toBe(false);
    const stalled = markStalled(c, T0 + 3 * HOUR);
    expect(stalled.stalledNow).toBe(true);
    expect(stalled.collection).toMatchObject({ status: 'stalled', stalledAt: T0 + 3 * HOUR });
    expect(markStalled(stalled.collection, T0 + 4 * HOUR).stalledNow).toBe(false);
  });

  it('uses the configured time', () => {
    const quick = collectionConfigSchema.parse({ stalledAfterMinutes: 10 });
    expect(markStalled(started(), T0 + 10 * MINUTE, quick).stalledNow).toBe(true);
  });

  it('never marks paused or completed collections', () => {
    expect(markStalled(pauseCollection(started(), T0), T0 + 10 * HOUR).stalledNow).toBe(false);
    const done = recordProgress(
      started(),
      { marketplace: 'takealot', collected: 800 },
      T0,
    ).collection;
    expect(markStalled(done, T0 + 10 * HOUR).stalledNow).toBe(false);
  });

  it('restarts a stalled collection keeping what it collected', () => {
    let c = started();
    c = recordProgress(c, { marketplace: 'takealot', collected: 300 }, T0 + HOUR).collection;
    c = markStalled(c, T0 + 4 * HOUR).collection;
    const restarted = restartStalled(c, T0 + 5 * HOUR);
    expect(restarted.restarted).toBe(true);
    expect(restarted.collection).toMatchObject({
      status: 'running',
      stalledAt: null,
      restarts: 1,
      phase: 2,
      marketplaces: { takealot: { target: 800, collected: 300 } },
      startedAt: T0,
      lastProgressAt: T0 + 5 * HOUR,
      phaseHistory: c.phaseHistory,
      samples: [{ at: T0 + 5 * HOUR, collected: { takealot: 300 } }],
    });
    // Not stalled at once again, and a second restart is a no-op.
    expect(isStalled(restarted.collection, T0 + 6 * HOUR, config)).toBe(false);
    expect(restartStalled(restarted.collection, T0 + 6 * HOUR)).toEqual({
      collection: restarted.collection,
      restarted: false,
    });
  });

  it('runs again when progress arrives while stalled', () => {
    const c = markStalled(started(), T0 + 3 * HOUR).collection;
    const revived = recordProgress(
      c,
      { marketplace: 'takealot', added: 1 },
      T0 + 4 * HOUR,
    ).collection;
    expect(revived).toMatchObject({ status: 'running', stalledAt: null });
  });
});

describe('pause and resume', () => {
  it('pauses and resumes without counting the pause as a stall', () => {
    const paused = pauseCollection(started(), T0 + HOUR);
    expect(paused.status).toBe('paused');
    const progressed = recordProgress(paused, { marketplace: 'takealot', added: 5 }, T0 + 2 * HOUR);
    expect(progressed.collection.status).toBe('paused');
    const resumed = resumeCollection(progressed.collection, T0 + 10 * HOUR);
    expect(resumed).toMatchObject({ status: 'running', lastProgressAt: T0 + 10 * HOUR });
    expect(isStalled(resumed, T0 + 11 * HOUR, DEFAULT_COLLECTION_CONFIG)).toBe(false);
    expect(resumeCollection(resumed, T0 + 11 * HOUR)).toBe(resumed);
  });
});
