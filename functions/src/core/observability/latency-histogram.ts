/**
 * The latency histogram of fleet statistics: fixed buckets, their stored field names, merging
 * (exact across instances) and quantiles from merged buckets. Pure.
 */

/**
 * Upper bounds (ms, inclusive) of the latency buckets; one more bucket above the last. A
 * percentile is exact to the bucket it falls in.
 */
export const LATENCY_BOUNDS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
] as const;
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** The bucket a latency falls in (bounds are inclusive; negative counts as 0). */
export function bucketIndex(latencyMs: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) {
    if (latencyMs <= LATENCY_BOUNDS_MS[i]!) return i;
  }
  return LATENCY_BOUNDS_MS.length;
}

/** A bucket's field name: its upper bound (`le250`), or `inf` for the last. */
export function bucketKey(index: number): string {
  return index < LATENCY_BOUNDS_MS.length ? `le${LATENCY_BOUNDS_MS[index]}` : 'inf';
}

/**
 * The bucket a stored field name counts into: the bucket of its upper bound, so documents
 * written with other bounds still merge (conservatively, upwards); undefined if not a bucket.
 */
export function parseBucketKey(key: string): number | undefined {
  if (key === 'inf') return LATENCY_BOUNDS_MS.length;
  const match = /^le(\d+)$/.exec(key);
  return match ? bucketIndex(Number(match[1])) : undefined;
}

/** The range of latencies a bucket holds: (lower, upper]; the last bucket's upper is Infinity. */
export function bucketRange(index: number): { lower: number; upper: number } {
  return {
    lower: index === 0 ? 0 : LATENCY_BOUNDS_MS[index - 1]!,
    upper: index < LATENCY_BOUNDS_MS.length ? LATENCY_BOUNDS_MS[index]! : Number.POSITIVE_INFINITY,
  };
}

export function emptyHistogram(): number[] {
  return new Array<number>(LATENCY_BUCKETS).fill(0);
}

/** Adds `from` into `into`, bucket by bucket. */
export function mergeHistogram(into: number[], from: readonly number[]): number[] {
  for (let i = 0; i < LATENCY_BUCKETS; i++) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
  return into;
}

/**
 * The q-quantile (0 < q <= 1) of the latencies a histogram counts, in ms; null when it is
 * empty. The nearest-rank sample's bucket is found exactly, and the value is interpolated
 * linearly inside it (as Prometheus' histogram_quantile does); in the last, unbounded bucket it
 * is that bucket's lower bound. So the answer always lies in the bucket of the true sample.
 */
export function histogramQuantile(counts: readonly number[], q: number): number | null {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1]: ${q}`);
  let total = 0;
  for (const c of counts) total += Math.max(c, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = Math.max(counts[i]!, 0);
    if (c > 0 && below + c >= rank) {
      const { lower, upper } = bucketRange(i);
      if (!Number.isFinite(upper)) return lower;
      return lower + ((upper - lower) * (rank - below)) / c;
    }
    below += c;
  }
  return bucketRange(counts.length - 1).lower;
}
