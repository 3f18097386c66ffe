import type { Collection, CollectionConfig, ProgressSample } from './collection-schema';

/** A collection's progress samples, from which its rates are measured. */

const MINUTE_MS = 60_000;

export function sampleOf(collection: Collection, at: number): ProgressSample {
  return {
    at,
    collected: Object.fromEntries(
      Object.entries(collection.marketplaces).map(([m, { collected }]) => [m, collected]),
    ),
  };
}

/**
 * The sample ring: a new sample only when the last one is at least an interval old, and only the
 * newest sample at or before the rate window's start is kept of the older ones. So the document
 * holds at most window / interval + 2 samples however fast progress is reported.
 */
export function addSample(
  samples: readonly ProgressSample[],
  sample: ProgressSample,
  config: CollectionConfig,
): ProgressSample[] {
  const last = samples.at(-1);
  if (last && sample.at - last.at < config.sampleIntervalMinutes * MINUTE_MS) return [...samples];
  const next = [...samples, sample];
  const windowStart = sample.at - config.rateWindowMinutes * MINUTE_MS;
  let anchor = 0;
  for (let i = 0; i < next.length; i++) if (next[i]!.at <= windowStart) anchor = i;
  return next.slice(anchor);
}
