import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Category,
  categorySchema,
  type Provider,
  providerSchema,
} from '../../../src/core/config';
import { batchingConfigSchema, defaultBatchingConfig } from '../../../src/core/pipeline/batching';
import {
  categoryWork,
  introducedShareProblems,
  type PhasedCollection,
  REALTIME_SALES_SYNC,
  type WorkConfiguration,
  workProblems,
} from '../../../src/core/pipeline/category-work';
import { collectionSchema } from '../../../src/core/pipeline/collection-schema';
import { DEFAULT_PHASES } from '../../../src/core/pipeline/phases';
import { shareProblemMessage } from '../../../src/core/quota/share-check';

const KEEPA = providerSchema.parse({
  id: 'keepa',
  limits: [
    {
      kind: 'tokenBucket',
      capacity: 300,
      refillPerSecond: 5,
      allowNegative: true,
      burstThreshold: 280,
    },
  ],
});
const PROXY = providerSchema.parse({
  id: 'smartproxy',
  limits: [
    { kind: 'window', unit: 'second', limit: 10, measure: 'requests' },
    { kind: 'concurrency', max: 20 },
  ],
});
const SPAPI = providerSchema.parse({
  id: 'spapi',
  limits: [{ kind: 'operation', operation: 'getReport', ratePerSecond: 2, burst: 15 }],
});

function category(id: string, provider: string, sharePercent: number): Category {
  return categorySchema.parse({ id, provider, sharePercent });
}

function collection(
  id: string,
  provider: string,
  categoryId: string,
  extra: Partial<PhasedCollection> = {},
): PhasedCollection {
  return {
    id,
    provider,
    category: categoryId,
    status: 'running',
    phase: 1,
    phases: null,
    ...extra,
  };
}

function configuration(
  categories: Category[],
  collections: PhasedCollection[],
  extra: Partial<WorkConfiguration> = {},
): WorkConfiguration {
  return {
    providers: [KEEPA, PROXY, SPAPI],
    categories,
    collections,
    batching: defaultBatchingConfig,
    defaultPhases: [...DEFAULT_PHASES],
    ...extra,
  };
}

describe('the work of each category', () => {
  it('Keepa collections: ingest batches, deal scans and re-collections, from the configuration', () => {
    const work = categoryWork(
      configuration([category('deals', 'keepa', 70)], [collection('d', 'keepa', 'deals')]),
    );
    expect(work.get('deals')).toEqual([
      { work: 'Keepa ingest peek batch (50 x 1)', operation: 'peek', cost: 50 },
      // Commits are priced at Keepa's documented 12 per ASIN (offers=20), not the configured 5.
      { work: 'Keepa ingest commit batch (5 x 12)', operation: 'commit', cost: 60 },
      { work: 'Keepa ingest light batch (50 x 1)', operation: 'light', cost: 50 },
      { work: 'Keepa deal scan (2 pages x 5)', operation: 'deal', cost: 10 },
      { work: 'validation re-collection', cost: 1 },
    ]);
  });

  it('follows the batch sizes, the deal pages, and the planner cap of bucket plus deficit', () => {
    const batching = batchingConfigSchema.parse({
      peek: { size: 100, minItems: 100 },
      // A configured cost above the documented price (12 a commit) is kept; one below is raised.
      commit: { size: 10, costPerItem: 15 },
    });
    const keepa = { ...KEEPA, settings: { dealPages: 4 } };
    const small = providerSchema.parse({
      id: 'keepa',
      limits: [{ kind: 'tokenBucket', capacity: 40, refillPerSecond: 1 }],
    });
    const calls = (provider: Provider) =>
      categoryWork({
        ...configuration([category('deals', 'keepa', 70)], [collection('d', 'keepa', 'deals')]),
        providers: [provider],
        batching,
      }).get('deals');
    expect(calls(keepa)?.map((c) => c.cost)).toEqual([100, 150, 50, 20, 1]);
    // 40 tokens and a deficit of 25 pay for 65 peeks and 4 commits at most.
    expect(calls(small)?.map((c) => c.cost)).toEqual([65, 60, 50, 10, 1]);
    const cheap = batchingConfigSchema.parse({ commit: { size: 10, costPerItem: 7 } });
    expect(
      categoryWork({
        ...configuration([category('deals', 'keepa', 70)], [collection('d', 'keepa', 'deals')]),
        providers: [keepa],
        batching: cheap,
      })
        .get('deals')
        ?.map((c) => c.cost),
    ).toEqual([50, 120, 50, 20, 1]);
  });

  it('proxy collections: listing pages and price histories, one request each', () => {
    const work = categoryWork(
      configuration([category('hist', 'smartproxy', 15)], [collection('h', 'smartproxy', 'hist')]),
    );
    expect(work.get('hist')).toEqual([
      { work: 'listing page discovery', operation: 'listing', cost: 1 },
      { work: 'price history', operation: 'product', cost: 1 },
      { work: 'validation re-collection', cost: 1 },
    ]);
  });

  it('the SP-API sync: createReport, getReport and getReportDocument for its category', () => {
    const sync = category(REALTIME_SALES_SYNC.category, 'spapi', 100);
    expect(
      categoryWork(configuration([sync], []))
        .get(sync.id)
        ?.map((c) => c.operation),
    ).toEqual(['createReport', 'getReport', 'getReportDocument']);
  });

  it('counts no completed collections, no unknown upstreams, no category of another provider', () => {
    const work = categoryWork(
      configuration(
        [
          category('done', 'keepa', 10),
          category('other', 'client-e2e', 10),
          category('mixed', 'smartproxy', 10),
          category(REALTIME_SALES_SYNC.category, 'keepa', 10),
        ],
        [
          collection('a', 'keepa', 'done', { status: 'completed' }),
          collection('b', 'client-e2e', 'other'),
          collection('c', 'keepa', 'mixed'),
        ],
      ),
    );
    expect(work.size).toBe(0);
    // Provider ids are looked up as data, not as properties ('constructor' is a valid id).
    const odd = providerSchema.parse({
      id: 'constructor',
      limits: [{ kind: 'concurrency', max: 1 }],
    });
    const oddWork = categoryWork({
      ...configuration(
        [category('odd', 'constructor', 10)],
        [collection('o', 'constructor', 'odd')],
      ),
      providers: [odd],
    });
    expect(oddWork.size).toBe(0);
    // Paused and stalled collections can run again: they count.
    const paused = categoryWork(
      configuration(
        [category('deals', 'keepa', 70)],
        [collection('a', 'keepa', 'deals', { status: 'paused' })],
      ),
    );
    expect(paused.get('deals')).toHaveLength(5);
  });
});

describe('share problems of a configuration', () => {
  it('a Keepa collection on a 15% share cannot run 60-token commit batches', () => {
    const problems = workProblems(
      configuration([category('deals', 'keepa', 15)], [collection('d', 'keepa', 'deals')]),
    );
    expect(problems.map(shareProblemMessage)).toEqual([
      'share 15% of token bucket 300@5/s carries at most 40 per call; the work asks 60 (Keepa ingest commit batch (5 x 12))',
    ]);
  });

  it("later phases: each share the schedule will set, an override's pin, a pausing phase", () => {
    const hist = category('hist', 'smartproxy', 15);
    const config = configuration([hist], [collection('h', 'smartproxy', 'hist')]);
    expect(workProblems(config)).toEqual([]);
    const later = workProblems(config, { laterPhases: true });
    expect(later.map((p) => [p.phase?.phase, p.percent, p.max])).toEqual([
      [3, 7, 0],
      [4, 4.2, 0],
    ]);
    expect(shareProblemMessage(later[0]!)).toBe(
      'phase 3 of collection h (from 75% complete): share 7% of 10 requests per second carries at most 0 per call; the work asks 1 (listing page discovery)',
    );
    // From phase 3 on, only phase 4 is still to come.
    const atThree = configuration([hist], [collection('h', 'smartproxy', 'hist', { phase: 3 })]);
    expect(workProblems(atThree, { laterPhases: true }).map((p) => p.phase?.phase)).toEqual([4]);
    // Its own schedule; a phase at the category's minimum pauses it (asks nothing).
    const own = collection('h', 'smartproxy', 'hist', {
      phases: [
        { fromPercent: 0, sharePercent: 15 },
        { fromPercent: 50, sharePercent: 1 },
      ],
    });
    expect(workProblems(configuration([hist], [own]), { laterPhases: true })).toEqual([]);
    // An override pins the share whatever the phase.
    const pinned = { ...hist, overridePercent: 20 };
    expect(
      workProblems(configuration([pinned], [collection('h', 'smartproxy', 'hist')]), {
        laterPhases: true,
      }),
    ).toEqual([]);
  });

  it('a change is refused only for what it introduces', () => {
    // 25% of the 280-token threshold carries 68 tokens a call (commits ask 60).
    const before = configuration(
      [category('deals', 'keepa', 25)],
      [collection('d', 'keepa', 'deals')],
    );
    expect(introducedShareProblems(before, before)).toEqual([]);
    // Larger batches than the share carries.
    const larger = (size: number) => ({
      ...before,
      batching: batchingConfigSchema.parse({ peek: { size, minItems: size } }),
    });
    expect(introducedShareProblems(before, larger(68))).toEqual([]);
    expect(introducedShareProblems(before, larger(70)).map((p) => p.cost)).toEqual([70]);
    // A new collection on a share too small for it.
    const small = configuration([category('deals', 'keepa', 15)], []);
    const started = { ...small, collections: [collection('d', 'keepa', 'deals')] };
    expect(introducedShareProblems(small, started)).toHaveLength(1);
    // A share already too small for a limit stays this limit's problem, not the change's.
    expect(introducedShareProblems(started, { ...started, batching: larger(70).batching })).toEqual(
      [],
    );
  });
});

describe('the seeded configuration (emulator-data/demo-documents.json)', () => {
  const documents = JSON.parse(
    readFileSync(
      join(__dirname, '..', '..', '..', '..', 'emulator-data', 'demo-documents.json'),
      'utf8',
    ),
  ) as Record<string, Record<string, unknown>>;
  const of = (prefix: string) =>
    Object.entries(documents)
      .filter(([path]) => path.startsWith(`${prefix}/`))
      .map(([path, data]) => ({ id: path.slice(prefix.length + 1), ...data }));
  const seeded = configuration(
    of('categories').map((c) => categorySchema.parse(c)),
    of('collections').map((c) => collectionSchema.parse(c)),
    { providers: of('providers').map((p) => providerSchema.parse(p)) },
  );
  /** The demo (devstack/src/demo.ts) raises the proxy pool to 40 requests/s first. */
  const demo: WorkConfiguration = {
    ...seeded,
    providers: seeded.providers.map((p) =>
      p.id === 'smartproxy'
        ? {
            ...p,
            limits: p.limits.map((l) =>
              l.kind === 'window' && l.unit === 'second' ? { ...l, limit: 40 } : l,
            ),
          }
        : p,
    ),
  };

  it('carries its work at the shares it holds now', () => {
    expect(workProblems(seeded)).toEqual([]);
  });

  it("carries buckcheap-historical's every phase: 4.2% of the pool's 25 requests/s is one a second", () => {
    // At the 10 requests/s the seed once had, 7% and 4.2% rounded down to nothing: from 75%
    // complete every proxy call of the collection would have waited forever.
    expect(workProblems(seeded, { laterPhases: true })).toEqual([]);
    expect(workProblems(demo, { laterPhases: true })).toEqual([]);
  });

  it("the demo's Keepa collection fits at 70%; the README's one on the default phases does not", () => {
    const keepaDemo = collection('keepa-deals', 'keepa', 'keepa-deals', {
      phases: [{ fromPercent: 0, sharePercent: 70 }],
    });
    expect(
      workProblems(
        { ...demo, collections: [...demo.collections, keepaDemo] },
        { laterPhases: true },
      ),
    ).toEqual([]);
    const readme = collection('deals', 'keepa', 'keepa-deals');
    const atPhaseOne = {
      ...demo,
      categories: demo.categories.map((c) =>
        c.id === 'keepa-deals' ? { ...c, sharePercent: 15 } : c,
      ),
      collections: [...demo.collections, readme],
    };
    expect(workProblems(atPhaseOne).map((p) => [p.category, p.cost, p.max])).toEqual([
      ['keepa-deals', 60, 40],
    ]);
  });
});
