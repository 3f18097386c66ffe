import type { Firestore } from 'firebase-admin/firestore';

/**
 * The transaction-per-call baseline: a faithful equivalent of the npm package
 * `firebase-functions-rate-limiter` 3.9.1 (Firestore backend), which we do not install.
 *
 * Why not the package itself: it loads (it drags in firebase-admin 10 and firebase-functions 3
 * as hard dependencies, next to our firebase-admin 13), but its FirestorePersistenceProvider
 * calls `firestore.runTransaction(tx => ...)` and then ignores `tx`: the read is a plain
 * `docRef.get()` and the write a plain `docRef.set()`. The "transaction" is empty, so
 * concurrent callers race. Against our emulator, 50 concurrent callers with `maxCalls: 100`
 * were all granted 300 of 300 calls, and the document ended holding 7 usages.
 *
 * What is kept exactly as the package does it (GenericRateLimiter +
 * FirestorePersistenceProvider): one document per (limiter name, qualifier) at
 * `<name>/<qualifier>` holding `{ u: number[] }`, the usage times in whole seconds
 * (`Timestamp.now().seconds`); a call reads it, keeps the usages with `u > now - periodSeconds`,
 * is refused if `recent >= maxCalls`, otherwise appends `now`; the document is written back
 * only if the kept list differs from the stored one (so a refusal with nothing expired writes
 * nothing). What differs: the read and the write go through the transaction (`tx.get`,
 * `tx.set`), as the package intends, so this really is one isolated transaction per call.
 * `cost` N counts as N usages (the package has no cost; N = 1 is the package exactly).
 * `isolation: 'as-published'` reproduces the package's racing behaviour instead, for contrast.
 */
export interface BaselineLimiter {
  name: string;
  /** True: `cost` was recorded and the caller may go ahead. False: quota exceeded. */
  tryAcquire(cost: number): Promise<boolean>;
  /** Document writes performed so far (committed transactional or plain sets). */
  firestoreWrites(): number;
}

export interface UsageLogLimiterOptions {
  firestore: Firestore;
  /** The package's `configuration.name`, used as the collection id. */
  collection: string;
  /** The package's qualifier (document id); `default_qualifier` like the package. */
  qualifier?: string;
  maxCalls: number;
  periodSeconds: number;
  /** 'transaction' (default): tx.get/tx.set. 'as-published': the package's plain get/set. */
  isolation?: 'transaction' | 'as-published';
  /** Whole seconds now; the package uses Timestamp.now().seconds (the local clock). */
  nowSeconds?: () => number;
  name?: string;
}

interface UsageRecord {
  u: number[];
}

function sameUsages(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

/**
 * The package's decision for one call: the usages that stay and whether the call is refused.
 */
export function decideUsages(
  stored: number[],
  nowS: number,
  cost: number,
  maxCalls: number,
  periodSeconds: number,
): { refused: boolean; next: number[] } {
  const threshold = nowS - periodSeconds;
  const recent = stored.filter((t) => t > threshold);
  const refused = recent.length + cost > maxCalls;
  if (!refused) for (let i = 0; i < cost; i++) recent.push(nowS);
  return { refused, next: recent };
}

export function createUsageLogLimiter(opts: UsageLogLimiterOptions): BaselineLimiter {
  if (!(opts.maxCalls > 0) || !Number.isInteger(opts.maxCalls)) {
    throw new RangeError('maxCalls must be a positive integer');
  }
  if (!(opts.periodSeconds > 0) || !Number.isInteger(opts.periodSeconds)) {
    throw new RangeError('periodSeconds must be a positive integer');
  }
  const db = opts.firestore;
  const ref = db.collection(opts.collection).doc(opts.qualifier ?? 'default_qualifier');
  const nowSeconds = opts.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const isolation = opts.isolation ?? 'transaction';
  let writes = 0;

  const decide = (stored: number[] | undefined, cost: number) => {
    const before = stored ?? [];
    const d = decideUsages(before, nowSeconds(), cost, opts.maxCalls, opts.periodSeconds);
    return { ...d, changed: !sameUsages(before, d.next) };
  };

  const tryAcquire = async (cost: number): Promise<boolean> => {
    if (isolation === 'as-published') {
      let refused = false;
      let wrote = false;
      await db.runTransaction(async () => {
        wrote = false;
        const snap = await ref.get();
        const d = decide((snap.data() as UsageRecord | undefined)?.u, cost);
        refused = d.refused;
        if (d.changed) {
          await ref.set({ u: d.next });
          wrote = true;
        }
      });
      if (wrote) writes++;
      return !refused;
    }
    const outcome = await db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      const d = decide((snap.data() as UsageRecord | undefined)?.u, cost);
      if (d.changed) tx.set(ref, { u: d.next });
      return d;
    });
    if (outcome.changed) writes++;
    return !outcome.refused;
  };

  return {
    name:
      opts.name ??
      (isolation === 'as-published'
        ? 'firebase-functions-rate-limiter (as published: get/set outside the tx)'
        : 'firebase-functions-rate-limiter equivalent (1 tx/call)'),
    tryAcquire,
    firestoreWrites: () => writes,
  };
}

/**
 * The package's configuration that never oversteps a token bucket (capacity C, refill r/s)
 * when the limiter's grants reach the upstream up to `maxDelaySeconds` later (jitter).
 *
 * A usage stamped at second s stops counting at s + P, which can be only P - 1 seconds after
 * the call (whole-second timestamps). With maxCalls = C, the worst case is 2C calls within
 * P - 1 - jitter seconds of upstream time, which the bucket allows iff r (P - 1 - jitter) >= C:
 * P = ceil(C / r + 1 + jitter). Sustained rate C / P, so utilisation is below 1 by design.
 */
export function usageLogConfigFor(
  capacity: number,
  refillPerSecond: number,
  maxDelaySeconds = 1,
): { maxCalls: number; periodSeconds: number } {
  return {
    maxCalls: Math.floor(capacity),
    periodSeconds: Math.ceil(Math.floor(capacity) / refillPerSecond + 1 + maxDelaySeconds),
  };
}
