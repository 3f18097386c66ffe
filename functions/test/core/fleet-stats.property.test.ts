import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseUpstream } from '../../src/core/observability/fleet-documents';
import {
  decodeFieldKey,
  encodeFieldKey,
  FLEET_HOUR_COLLECTION,
  FLEET_MINUTE_COLLECTION,
  fleetResolution,
  MAX_POINTS_PER_SERIES,
} from '../../src/core/observability/fleet-stats';
import { summarizeFleet } from '../../src/core/observability/fleet-summary';
import {
  FleetAccumulator,
  type UpstreamCallSample,
} from '../../src/core/observability/fleet-writes';
import {
  bucketIndex,
  bucketRange,
  emptyHistogram,
  histogramQuantile,
  LATENCY_BOUNDS_MS,
  mergeHistogram,
} from '../../src/core/observability/latency-histogram';
import {
  addMerge,
  applyFieldUpdates,
  type FieldUpdates,
} from '../../src/core/storage/write-buffer';

/**
 * Fleet statistics, pure: percentiles from merged fixed-bucket histograms against a sorted-sample
 * oracle, and increments of many instances to the same documents, applied in any order, losing
 * nothing.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 10, 6, 0, 0);

const latency = fc.oneof(
  fc.double({ min: 0, max: 120_000, noNaN: true }),
  fc.constantFrom(0, ...LATENCY_BOUNDS_MS),
  fc.integer({ min: 0, max: 600 }),
);
const quantile = fc.constantFrom(0.5, 0.95, 0.99, 0.01, 1);

function histogramOf(samples: readonly number[]): number[] {
  const h = emptyHistogram();
  for (const s of samples) h[bucketIndex(s)]!++;
  return h;
}

/** The nearest-rank sample of the sorted samples, and the range of the bucket it falls in. */
function oracle(samples: readonly number[], q: number) {
  const sorted = [...samples].sort((a, b) => a - b);
  const value = sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
  return { value, ...bucketRange(bucketIndex(value)) };
}

describe('percentiles from fixed-bucket histograms', () => {
  it('lie in the bucket of the true nearest-rank sample, however the samples were split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(latency, { maxLength: 60 }), { minLength: 1, maxLength: 8 }),
        quantile,
        (instances, q) => {
          const all = instances.flat();
          // Each instance keeps its own histogram; the reader merges them.
          const merged = instances.map(histogramOf).reduce(mergeHistogram, emptyHistogram());
          const estimate = histogramQuantile(merged, q);
          if (all.length === 0) {
            expect(estimate).toBeNull();
            return;
          }
          const truth = oracle(all, q);
          expect(estimate).not.toBeNull();
          if (Number.isFinite(truth.upper)) {
            expect(estimate!).toBeGreaterThanOrEqual(truth.lower);
            expect(estimate!).toBeLessThanOrEqual(truth.upper);
          } else {
            // Above the last bound: the bound itself, as Prometheus answers.
            expect(truth.value).toBeGreaterThan(truth.lower);
            expect(estimate).toBe(truth.lower);
          }
          // Merging is exact: the same as one histogram of every sample.
          expect(merged).toEqual(histogramOf(all));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('are ordered (p50 <= p95) and at bucket bounds for one-bucket samples', () => {
    fc.assert(
      fc.property(fc.array(latency, { minLength: 1, maxLength: 200 }), (samples) => {
        const h = histogramOf(samples);
        expect(histogramQuantile(h, 0.5)!).toBeLessThanOrEqual(histogramQuantile(h, 0.95)!);
      }),
      { numRuns: RUNS },
    );
    // 100 calls of 20 ms: both in (10, 25].
    const h = histogramOf(new Array(100).fill(20));
    expect(histogramQuantile(h, 0.5)).toBeGreaterThan(10);
    expect(histogramQuantile(h, 0.95)).toBeLessThanOrEqual(25);
    expect(histogramQuantile(emptyHistogram(), 0.5)).toBeNull();
    expect(() => histogramQuantile(h, 0)).toThrow(RangeError);
  });
});

const sample = (instanceCount: number): fc.Arbitrary<UpstreamCallSample & { instance: number }> =>
  fc.record({
    instance: fc.integer({ min: 0, max: instanceCount - 1 }),
    provider: fc.constantFrom('keepa', 'spapi', 'smartproxy', 'a.b', '__x__', 'p/q'),
    operation: fc.constantFrom('product', 'createReport', 'get.doc', 'fetch'),
    outcome: fc.constantFrom('ok', 'quota', 'http_4xx', 'http_5xx', 'timeout', 'network'),
    latencyMs: latency,
    atMs: fc.integer({ min: T0, max: T0 + 3 * 3_600_000 }),
  });

describe('fleet documents written by many instances', () => {
  it('lose no call: any order of any hand-overs of any instances sums to every call', () => {
    fc.assert(
      fc.property(
        fc.array(sample(4), { maxLength: 150 }),
        fc.array(fc.integer({ min: 0, max: 150 }), { maxLength: 6 }),
        fc.integer({ min: 0, max: 3 }),
        fc.func(fc.integer()),
        (calls, handOverAt, shard, order) => {
          // Each instance hands over at some points; every instance shares one shard, so all
          // write the same documents (the worst case).
          const instances = [0, 1, 2, 3].map(() => new FleetAccumulator());
          const writes: Array<{ path: string; data: Record<string, unknown> }> = [];
          calls.forEach((c, i) => {
            instances[c.instance]!.add(c);
            if (handOverAt.includes(i)) {
              for (const acc of instances) writes.push(...acc.drain(shard));
            }
          });
          for (const acc of instances) writes.push(...acc.drain(shard));
          // Firestore applies each write atomically, in whatever order they arrive.
          const shuffled = writes
            .map((w, i) => ({ w, key: order(i) }))
            .sort((a, b) => a.key - b.key)
            .map(({ w }) => w);
          const docs = new Map<string, Record<string, unknown>>();
          for (const { path, data } of shuffled) {
            const update: FieldUpdates = new Map();
            addMerge(update, data);
            docs.set(path, applyFieldUpdates(docs.get(path), update));
          }
          const stored = (collection: string) =>
            [...docs]
              .filter(([path]) => path.startsWith(`${collection}/`))
              .map(([, d]) => ({ atMs: (d.at as Date).getTime(), upstream: d.upstream }));
          for (const [collection, stepMs] of [
            [FLEET_MINUTE_COLLECTION, MIN],
            [FLEET_HOUR_COLLECTION, 3_600_000],
          ] as const) {
            const summary = summarizeFleet(stored(collection), { fromMs: 0, stepMs });
            const expected = new Map<string, number>();
            for (const c of calls) {
              const key = `${c.provider}|${c.operation}|${c.outcome}`;
              expected.set(key, (expected.get(key) ?? 0) + 1);
            }
            const got = new Map<string, number>();
            for (const t of summary.totals) {
              for (const [o, n] of Object.entries(t.outcomes)) {
                got.set(`${t.provider}|${t.operation}|${o}`, n);
              }
            }
            expect(got).toEqual(expected);
            // Per step too: the calls of each minute (hour) are in that minute's (hour's) point.
            for (const p of summary.points) {
              const inStep = calls.filter(
                (c) =>
                  c.provider === p.provider &&
                  c.operation === p.operation &&
                  Math.floor(c.atMs / stepMs) * stepMs === p.startMs,
              );
              expect(p.calls).toBe(inStep.length);
              const truth =
                inStep.length > 0
                  ? oracle(
                      inStep.map((c) => c.latencyMs),
                      0.95,
                    )
                  : null;
              if (truth && Number.isFinite(truth.upper)) {
                expect(p.p95Ms!).toBeGreaterThanOrEqual(truth.lower);
                expect(p.p95Ms!).toBeLessThanOrEqual(truth.upper);
              }
            }
          }
          // One document per minute (and hour) for the shard, whatever the instances.
          const minutes = new Set(calls.map((c) => Math.floor(c.atMs / MIN)));
          expect(
            [...docs.keys()].filter((p) => p.startsWith(`${FLEET_MINUTE_COLLECTION}/`)),
          ).toHaveLength(minutes.size);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('store any name as a field name and read it back', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (name) => {
        const key = encodeFieldKey(name);
        expect(key).not.toContain('.');
        expect(key).not.toContain('`');
        expect(key).not.toMatch(/^__.*__$/);
        expect(decodeFieldKey(key)).toBe(name);
      }),
      { numRuns: RUNS },
    );
    expect(parseUpstream({ k: { op: { calls: { ok: 'x', quota: -1, http_5xx: 2 } } } })).toEqual([
      {
        provider: 'k',
        operation: 'op',
        outcomes: { http_5xx: 2 },
        buckets: emptyHistogram(),
        sumMs: 0,
      },
    ]);
  });
});

describe('the resolution of a getQuotaStats range', () => {
  it('reads minutes up to six hours, hours beyond, and keeps each series within its points', () => {
    const now = T0 + 30_000;
    expect(fleetResolution(60, now)).toEqual({
      source: 'minute',
      fromMs: T0 - 59 * MIN,
      stepMs: MIN,
    });
    expect(fleetResolution(360, now)).toMatchObject({ source: 'minute', stepMs: 5 * MIN });
    const month = fleetResolution(43_200, now);
    expect(month.source).toBe('hour');
    expect(month.fromMs % 3_600_000).toBe(0);
    expect(month.fromMs).toBeLessThanOrEqual(now - 43_199 * MIN);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 43_200 }),
        fc.integer({ min: 0, max: 1e13 }),
        (m, t) => {
          const r = fleetResolution(m, t);
          expect(r.fromMs).toBeLessThanOrEqual(Math.floor(t / MIN) * MIN - (m - 1) * MIN);
          // Every step-aligned bucket the range touches is one point at most.
          const first = Math.floor(r.fromMs / r.stepMs);
          const last = Math.floor((Math.floor(t / MIN) * MIN) / r.stepMs);
          expect(last - first + 1).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
