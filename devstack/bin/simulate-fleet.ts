import { createRequire } from 'node:module';
import type * as EngineOptions from '../../functions/src/adapters/quota/quota-engine-options.ts';
import type * as WriteBufferTypes from '../../functions/src/adapters/storage/write-buffer-types.ts';
import type * as Config from '../../functions/src/core/config.ts';
import type * as Replay from '../../functions/src/core/replay/index.ts';

/**
 * `npm run simulate:fleet`: the scale questions these machines cannot run for real, answered
 * with the replay simulator (the real gate, compiled, on a simulated fleet and clock): a
 * provider at 10,000 calls/s shared by 100 categories on 10, 100 and 1,000 instances; one
 * category alone on the whole of it; and 100 providers with 100 categories each (10,000
 * categories) on 1,000 instances. Reports Firestore writes per second per collection and per key
 * range (against 500/50/5 and the sequential-key limit), statistics writes per document, Cloud
 * Tasks dispatches per queue (against 500/s), claims lost and stranded tokens per instance count.
 * Options: --seconds S (simulated, default 30), --sweep (lower rates on 10 instances), --json.
 */

const require = createRequire(import.meta.url);
const { categorySchema, flagsSchema, providerSchema } =
  require('../../functions/lib/core/config.js') as typeof Config;
const { FleetSimulator, WriteMeter, prng, rampMinutes, SCALE_SOURCES } =
  require('../../functions/lib/core/replay/index.js') as typeof Replay;
// The instances' statistics flushes as built: usage through the write buffer, demand its own.
const { WRITE_BUFFER_INTERVAL_MS } =
  require('../../functions/lib/adapters/storage/write-buffer-types.js') as typeof WriteBufferTypes;
const { DEMAND_FLUSH_INTERVAL_MS } =
  require('../../functions/lib/adapters/quota/quota-engine-options.js') as typeof EngineOptions;

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const json = args.includes('--json');
const seconds = flag('seconds', 30);
const log = (line: string) => {
  if (!json) console.error(line);
};

interface Scenario {
  name: string;
  providers: number;
  categoriesPerProvider: number;
  callsPerSecondPerProvider: number;
  /** Bucket capacity in seconds of refill (default 1). */
  capacitySeconds?: number;
  /** Tokens per claim document (default: the engine's, a tenth of a second of refill). */
  blockTokens?: number;
  instances: number;
}

async function run(s: Scenario) {
  const fromMs = Date.UTC(2026, 11, 1);
  const toMs = fromMs + seconds * 1000;
  const providers = Array.from({ length: s.providers }, (_, p) =>
    providerSchema.parse({
      id: `p${p}`,
      limits: [
        {
          kind: 'tokenBucket',
          capacity: s.callsPerSecondPerProvider * (s.capacitySeconds ?? 1),
          refillPerSecond: s.callsPerSecondPerProvider,
          ...(s.blockTokens === undefined ? {} : { blockTokens: s.blockTokens }),
        },
      ],
    }),
  );
  const categories = providers.flatMap((p) =>
    Array.from({ length: s.categoriesPerProvider }, (_, c) =>
      categorySchema.parse({
        id: `${p.id}-c${c}`,
        provider: p.id,
        sharePercent: 100 / s.categoriesPerProvider,
        minSharePercent: 0,
      }),
    ),
  );
  const random = prng(7);
  const arrivals: Replay.Arrival[] = [];
  // Each category asks its share of its provider's rate (Poisson), a little above it.
  const perCategory = (1.05 * s.callsPerSecondPerProvider) / s.categoriesPerProvider;
  for (const c of categories) {
    for (let t = fromMs + random() * 10; t < toMs; ) {
      t += (-Math.log(1 - random()) * 1000) / perCategory;
      if (t < toMs) {
        arrivals.push({
          atMs: Math.floor(t),
          provider: c.provider,
          category: c.id,
          cost: 1,
          bytes: 0,
          requests: 1,
        });
      }
    }
  }
  arrivals.sort((a, b) => a.atMs - b.atMs);
  // Counted within the range: a flush that would fall after it is not a write of the range.
  const meter = new WriteMeter(
    { usageMs: WRITE_BUFFER_INTERVAL_MS, demandMs: DEMAND_FLUSH_INTERVAL_MS },
    toMs,
  );
  const started = performance.now();
  const result = await new FleetSimulator({
    config: { providers, categories, flags: flagsSchema.parse({}) },
    fromMs,
    toMs,
    instances: s.instances,
    seed: 1,
    drainMs: 0,
    meter,
    // Every ask is counted as a dispatch, unqueued: what the provider's queue (or its shards)
    // would have to carry, not what one queue would let through.
    firstAsks: 'unqueued',
  }).run(arrivals);
  const wallS = (performance.now() - started) / 1000;
  const granted = result.categories.reduce((n, c) => n + c.grantedCost, 0);
  const allowance = result.limits.reduce((n, l) => n + l.allowance, 0);
  const scale = meter.report(seconds, s.instances);
  const claimWrites = scale.collections.find((c) => c.collection === 'quotaBlocks');
  return {
    scenario: s.name,
    instances: s.instances,
    providers: s.providers,
    categories: categories.length,
    askedPerSecond: Math.round(arrivals.length / seconds),
    grantedPerSecond: Math.round(granted / seconds),
    utilization: round(granted / allowance, 3),
    upstream429: result.upstream429.reduce((n, q) => n + q.count, 0),
    claimWritesPerSecond: round(claimWrites?.writesPerSecond ?? 0, 1),
    claimsLostPerSecond: round(result.claims.lost / seconds, 1),
    claimsLostShare: round(
      result.claims.lost / Math.max(1, result.claims.won + result.claims.lost),
      3,
    ),
    tokensClaimedPerSecond: Math.round(result.tokensClaimed / seconds),
    /** Claimed and never spent (expired in an instance that held them), per second. */
    strandedTokensPerSecond: Math.max(0, Math.round((result.tokensClaimed - granted) / seconds)),
    strandedShare: round(
      Math.max(0, result.tokensClaimed - granted) / Math.max(1, result.tokensClaimed),
      3,
    ),
    collections: scale.collections.map((c) => ({
      ...c,
      writesPerSecond: round(c.writesPerSecond, 1),
      rampMinutes: rampMinutes(c.writesPerSecond),
    })),
    hottestRange: scale.hotRanges[0],
    hottestDocument: scale.hotDocuments[0],
    queues: {
      dispatchesPerSecondPerProvider: round(
        scale.queues.reduce((n, q) => n + q.dispatchesPerSecond, 0) /
          Math.max(1, scale.queues.length),
        1,
      ),
      maxDispatchesPerSecond: round(
        Math.max(0, ...scale.queues.map((q) => q.dispatchesPerSecond)),
        1,
      ),
      queuesNeededForBusiest: Math.max(0, ...scale.queues.map((q) => q.queuesNeeded)),
    },
    simulatedSecondsPerWallSecond: round(seconds / wallS, 2),
  };
}

function round(n: number, digits: number) {
  return Number(n.toFixed(digits));
}

const scenarios: Scenario[] = [
  ...[10, 100, 1000].map((instances) => ({
    name: `one provider at 10,000/s, 100 categories, ${instances} instances`,
    providers: 1,
    categoriesPerProvider: 100,
    callsPerSecondPerProvider: 10_000,
    instances,
  })),
  {
    name: 'one category alone at 10,000/s, 1,000 instances',
    providers: 1,
    categoriesPerProvider: 1,
    callsPerSecondPerProvider: 10_000,
    instances: 1000,
  },
  {
    name: 'one category alone at 10,000/s, 1,000 instances, blockTokens 10',
    providers: 1,
    categoriesPerProvider: 1,
    callsPerSecondPerProvider: 10_000,
    blockTokens: 10,
    instances: 1000,
  },
  {
    name: '100 providers x 100 categories at 100/s each (capacity 10 s), 1,000 instances',
    providers: 100,
    categoriesPerProvider: 100,
    callsPerSecondPerProvider: 100,
    capacitySeconds: 10,
    instances: 1000,
  },
];

// --sweep: where one provider (100 categories, 10 instances) and one line (one category, 10
// instances) stay within one key range's 500 writes/s.
const sweep: Scenario[] = [1_000, 2_500, 5_000].flatMap((rate) => [
  {
    name: `sweep: one provider at ${rate}/s, 100 categories, 10 instances`,
    providers: 1,
    categoriesPerProvider: 100,
    callsPerSecondPerProvider: rate,
    instances: 10,
  },
  {
    name: `sweep: one category at ${rate}/s, 10 instances`,
    providers: 1,
    categoriesPerProvider: 1,
    callsPerSecondPerProvider: rate,
    instances: 10,
  },
]);

const results = [];
for (const s of args.includes('--sweep') ? sweep : scenarios) {
  log(`${s.name}: ${seconds} simulated s…`);
  const r = await run(s);
  results.push(r);
  if (!json) {
    console.table({
      [s.name]: {
        grantedPerS: r.grantedPerSecond,
        util: r.utilization,
        claimWritesPerS: r.claimWritesPerSecond,
        lostShare: r.claimsLostShare,
        strandedShare: r.strandedShare,
        hottestRangePerS: r.hottestRange?.writesPerSecond,
        hottestDocPerS: r.hottestDocument?.writesPerSecond,
        dispatchesPerS: r.queues.maxDispatchesPerSecond,
        queuesNeeded: r.queues.queuesNeededForBusiest,
      },
    });
    console.table(r.collections);
  }
}
console.log(JSON.stringify({ seconds, results, sources: SCALE_SOURCES }));
