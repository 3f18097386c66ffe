import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';
import { QuotaEngine } from '../../functions/src/adapters/quota/quota-engine.ts';
import { createUsageLogLimiter, usageLogConfigFor } from '../src/bench/baseline-limiter.ts';
import {
  type BenchUpstream,
  type QuotaBenchResult,
  type QuotaLimiter,
  runBaselineBench,
  runQuotaBench,
} from '../src/bench/harness.ts';
import { remoteUpstream } from '../src/bench/remote-upstream.ts';
import { runWriteBufferBench } from '../src/bench/write-buffer-bench.ts';

/**
 * `npm run bench [-- --json] [--duration S] [--workers N]`. In one run, on the embedded
 * Firestore emulator and an exact token-bucket upstream (both in a second process):
 * 1. quota: Tollgate's gate (5 instances sharing the bucket through block claims) against a
 *    one-transaction-per-call baseline, at a refill rate this machine can saturate, so that
 *    utilization means something;
 * 2. throughput: the same at a rate beyond what this machine can drive, to measure how many
 *    admitted calls per second each approach sustains;
 * 3. writeBuffer: many updates to shared counter documents through the group-commit buffer.
 */
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const json = args.includes('--json');
const workers = flag('workers', 50);
const durationMs = flag('duration', 60) * 1000;
const baselineDurationMs = flag('baseline-duration', 20) * 1000;
const throughputDurationMs = flag('throughput-duration', 15) * 1000;
const instances = 5;
const quotaShape = {
  capacity: flag('capacity', 1000),
  refillPerSecond: flag('rate', 1000),
  blockTokens: flag('block', 20),
};
const throughputShape = { capacity: 20_000, refillPerSecond: 20_000, blockTokens: 100 };
const log = (line: string) => {
  if (!json) console.log(line);
};

process.env.METADATA_SERVER_DETECTION = 'none';
// Firestore emulator and upstream run in a second process, as they would on other machines.
const services = spawn(
  process.execPath,
  ['--import', 'tsx', new URL('./bench-services.ts', import.meta.url).pathname],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const [line] = (await once(createInterface({ input: services.stdout! }), 'line')) as [string];
const addresses = JSON.parse(line) as { firestore: string; upstream: string };
process.env.FIRESTORE_EMULATOR_HOST = addresses.firestore;
const app = initializeApp({ projectId: `demo-bench-${randomUUID().slice(0, 8)}` }, 'bench');
const db = getFirestore(app);
const upstream = remoteUpstream(addresses.upstream);

try {
  log(`quota: tollgate, ${workers} workers on ${instances} instances, ${durationMs / 1000}s…`);
  const ours = await runTollgate(db, 'quota', quotaShape, upstream, durationMs);
  log(`quota: baseline, ${workers} workers, ${baselineDurationMs / 1000}s…`);
  const baseline = await runBaseline(db, 'quota', quotaShape, upstream, baselineDurationMs);
  log(`throughput: tollgate and baseline at ${throughputShape.refillPerSecond}/s…`);
  const oursFast = await runTollgate(
    db,
    'throughput',
    throughputShape,
    upstream,
    throughputDurationMs,
  );
  const baselineFast = await runBaseline(
    db,
    'throughput',
    throughputShape,
    upstream,
    throughputDurationMs,
  );
  log('writeBuffer: 50 callers x 200 updates on 20 shared counters…');
  const writeBuffer = await runWriteBufferBench(db, {
    callers: 50,
    updatesPerCaller: 200,
    counters: 20,
    collection: 'benchCounters',
  });

  const result = {
    quota: {
      workers,
      durationS: round(ours.durationS),
      allowed: round(ours.allowed),
      admitted: ours.admitted,
      utilization: round(ours.utilization, 4),
      upstream429: ours.upstream429,
      firestoreWritesPerAdmittedCall: round(ours.firestoreWritesPerAdmittedCall, 4),
      admittedPerSecond: round(ours.admittedPerSecond),
      baseline: {
        name: baseline.limiter,
        admittedPerSecond: round(baseline.admittedPerSecond),
        firestoreWritesPerAdmittedCall: round(baseline.firestoreWritesPerAdmittedCall, 4),
        utilization: round(baseline.utilization, 4),
        upstream429: baseline.upstream429,
      },
      speedupVsBaseline: speedup(ours, baseline),
    },
    throughput: {
      refillPerSecond: throughputShape.refillPerSecond,
      admittedPerSecond: round(oursFast.admittedPerSecond),
      upstream429: oursFast.upstream429,
      firestoreWritesPerAdmittedCall: round(oursFast.firestoreWritesPerAdmittedCall, 4),
      baselineAdmittedPerSecond: round(baselineFast.admittedPerSecond),
      speedupVsBaseline: speedup(oursFast, baselineFast),
    },
    writeBuffer: { ...writeBuffer, reduction: round(writeBuffer.reduction, 4) },
  };
  if (!json) {
    console.table({
      'quota: tollgate': pick(ours),
      'quota: baseline': pick(baseline),
      'throughput: tollgate': pick(oursFast),
      'throughput: baseline': pick(baselineFast),
    });
    console.table({ writeBuffer: result.writeBuffer });
  }
  console.log(JSON.stringify(result));
} finally {
  await deleteApp(app);
  services.stdin?.end();
  await once(services, 'exit');
}
process.exit(0);

async function runTollgate(
  db: Firestore,
  name: string,
  shape: { capacity: number; refillPerSecond: number; blockTokens: number },
  upstream: BenchUpstream,
  durationMs: number,
): Promise<QuotaBenchResult> {
  await db.doc(`providers/${name}`).set({
    limits: [{ kind: 'tokenBucket', ...shape }],
    safetyMarginMs: 25,
  });
  await db.doc(`categories/${name}`).set({ provider: name, sharePercent: 100 });
  await fetch(
    `${upstream.url}/reset?capacity=${shape.capacity}&refillPerSecond=${shape.refillPerSecond}`,
    {
      method: 'POST',
    },
  );
  const engines = Array.from({ length: instances }, () => new QuotaEngine(db));
  // Warm each instance's configuration cache before t = 0.
  await Promise.all(engines.map((e) => e.contexts.context(name, name)));
  let next = 0;
  const limiter: QuotaLimiter = {
    name: 'tollgate',
    acquire: async (cost) => {
      const engine = engines[next++ % engines.length]!;
      const decision = await engine.acquire({
        provider: name,
        category: name,
        cost,
        maxWaitMs: 1_000,
      });
      if (decision.kind === 'granted') {
        decision.release();
        return { granted: true };
      }
      return { granted: false, retryAtMs: decision.atMs };
    },
    firestoreWrites: () => engines.reduce((sum, e) => sum + e.firestoreWrites(), 0),
  };
  const result = await runQuotaBench({ workers, durationMs, upstream, limiter });
  if (args.includes('--verbose'))
    console.error(
      name,
      engines.map((e) => e.gate.stats),
    );
  return result;
}

async function runBaseline(
  db: Firestore,
  name: string,
  shape: { capacity: number; refillPerSecond: number },
  upstream: BenchUpstream,
  durationMs: number,
): Promise<QuotaBenchResult> {
  await fetch(
    `${upstream.url}/reset?capacity=${shape.capacity}&refillPerSecond=${shape.refillPerSecond}`,
    {
      method: 'POST',
    },
  );
  const baseline = createUsageLogLimiter({
    firestore: db,
    collection: `baseline-${name}`,
    ...usageLogConfigFor(shape.capacity, shape.refillPerSecond),
  });
  return runBaselineBench({ workers, durationMs, upstream, baseline });
}

function speedup(ours: QuotaBenchResult, baseline: QuotaBenchResult): number {
  return round(ours.admittedPerSecond / Math.max(baseline.admittedPerSecond, 1e-9), 1);
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function pick(r: QuotaBenchResult) {
  return {
    admittedPerSecond: round(r.admittedPerSecond),
    admitted: r.admitted,
    allowed: round(r.allowed),
    utilization: round(r.utilization, 4),
    upstream429: r.upstream429,
    writesPerCall: round(r.firestoreWritesPerAdmittedCall, 4),
    errors: r.limiterErrors + r.upstreamErrors,
  };
}
