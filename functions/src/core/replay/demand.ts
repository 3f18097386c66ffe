import {
  bucketDelayMs,
  DELAY_BUCKET_NAMES,
  type DemandMinute,
  NO_OPERATION,
} from '../storage/write-buffer/demand-stats';
import { prng } from './sim-clock';
import type { Arrival, ArrivalFeed } from './sim-types';

const MINUTE_MS = 60_000;

/**
 * The first asks behind recorded demand. A minute's `asked` counts every ask, the re-asks of
 * calls deferred earlier included (a deferred task comes back at its retry time and asks
 * again), so the replay, which re-asks its own deferrals, starts from what is left:
 * - a record that tells first asks from re-asks (`reasked`, or `firstAsks` by second) has
 *   exactly `asked - reasked` first asks;
 * - a record with neither (made before they were recorded) has asked minus the re-asks that
 *   land in its minute, estimated from each earlier such minute's deferrals and their delay
 *   histogram (deferrals spread evenly over their minute, each coming back after its bucket's
 *   representative delay). Fractions carry over, so the counts stay whole and sum right.
 */
export function firstAsks(
  minutes: readonly DemandMinute[],
): Map<string, Array<{ minute: DemandMinute; fresh: number }>> {
  const byKind = new Map<string, DemandMinute[]>();
  for (const m of minutes) {
    const key = `${m.provider}~${m.category}~${m.operation}`;
    const list = byKind.get(key) ?? [];
    list.push(m);
    byKind.set(key, list);
  }
  const result = new Map<string, Array<{ minute: DemandMinute; fresh: number }>>();
  for (const [key, list] of byKind) {
    list.sort((a, b) => a.minuteMs - b.minuteMs);
    const reasks = new Map<number, number>();
    for (const m of list) {
      if (tellsFirstAsks(m)) continue;
      for (const bucket of DELAY_BUCKET_NAMES) {
        const k = m.delay[bucket] ?? 0;
        if (k <= 0) continue;
        const d = bucketDelayMs(bucket);
        // Deferrals uniform over [m, m + 1 min) come back over [m + d, m + 1 min + d).
        const start = m.minuteMs + d;
        const first = Math.floor(start / MINUTE_MS) * MINUTE_MS;
        const inFirst = (first + MINUTE_MS - start) / MINUTE_MS;
        reasks.set(first, (reasks.get(first) ?? 0) + k * inFirst);
        reasks.set(first + MINUTE_MS, (reasks.get(first + MINUTE_MS) ?? 0) + k * (1 - inFirst));
      }
    }
    let carry = 0;
    const fresh: Array<{ minute: DemandMinute; fresh: number }> = [];
    for (const m of list) {
      if (tellsFirstAsks(m)) {
        fresh.push({ minute: m, fresh: Math.max(0, Math.round(m.asked - m.reasked)) });
        continue;
      }
      const exact = Math.max(0, m.asked - (reasks.get(m.minuteMs) ?? 0)) + carry;
      const n = Math.max(0, Math.round(exact));
      carry = exact - n;
      fresh.push({ minute: m, fresh: n });
    }
    result.set(key, fresh);
  }
  return result;
}

/** Whether a record tells its first asks from its re-asks (see firstAsks). */
function tellsFirstAsks(m: DemandMinute): boolean {
  return m.reasked > 0 || Object.keys(m.firstAsks).length > 0;
}

/** One kind of call in one recorded minute, and its first asks. */
export interface KindMinute {
  minute: DemandMinute;
  fresh: number;
  /** Its place in the plan (seeds its own jitter, so a minute's calls do not depend on others). */
  index: number;
}

/**
 * The recorded demand overlapping a range, minute by minute in time order, with each kind's
 * first asks (firstAsks above); `firstAsks` is their sum (an upper bound of the calls in the
 * range: a minute straddling its start or end counts whole). Holds no call: the calls are made
 * minute by minute as a replay reaches them (arrivalFeed).
 */
export interface DemandPlan {
  minutes: Array<{ minuteMs: number; kinds: KindMinute[] }>;
  firstAsks: number;
}

export function demandPlan(
  minutes: readonly DemandMinute[],
  range?: { fromMs: number; toMs: number },
): DemandPlan {
  const fresh = firstAsks(minutes);
  const kinds: Array<{ minute: DemandMinute; fresh: number }> = [];
  for (const key of [...fresh.keys()].sort()) {
    for (const entry of fresh.get(key)!) {
      const m = entry.minute;
      if (range && (m.minuteMs + MINUTE_MS <= range.fromMs || m.minuteMs >= range.toMs)) continue;
      if (m.asked <= 0 || entry.fresh <= 0) continue;
      kinds.push(entry);
    }
  }
  const byMinute = new Map<number, KindMinute[]>();
  let total = 0;
  kinds.forEach((entry, index) => {
    const list = byMinute.get(entry.minute.minuteMs) ?? [];
    list.push({ ...entry, index });
    byMinute.set(entry.minute.minuteMs, list);
    total += entry.fresh;
  });
  return {
    minutes: [...byMinute.entries()]
      .sort(([a], [b]) => a - b)
      .map(([minuteMs, list]) => ({ minuteMs, kinds: list })),
    firstAsks: total,
  };
}

/** What one first ask of a recorded kind of call asked, on average: cost, bytes, requests. */
function firstAskAmounts(m: DemandMinute): {
  cost: number;
  bytes: number;
  requests: number;
} {
  const recorded = Object.values(m.firstAsks).reduce((sum, n) => sum + n, 0);
  return recorded > 0 && m.first.cost + m.first.bytes + m.first.requests > 0
    ? {
        cost: m.first.cost / recorded,
        bytes: m.first.bytes / recorded,
        requests: m.first.requests / recorded,
      }
    : { cost: m.cost / m.asked, bytes: m.bytes / m.asked, requests: m.requests / m.asked };
}

/**
 * The first asks of one kind of call in one minute, in time order, made one at a time: each
 * recorded second's share at seeded uniform times within that second, or, for records without
 * seconds, spread evenly over the minute; each with the minute's mean cost, bytes and requests
 * per first ask (whole costs distributed so that they sum to the minute's share).
 */
export function* kindArrivals(k: KindMinute, seed: number): Generator<Arrival> {
  const m = k.minute;
  const random = prng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(k.index + 1, 0x85ebca77)) >>> 0);
  const seconds = Object.entries(m.firstAsks)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  const recorded = seconds.reduce((sum, [, n]) => sum + n, 0);
  const perAsk = firstAskAmounts(m);
  let i = 0;
  const call = (atMs: number): Arrival => {
    const arrival: Arrival = {
      atMs,
      provider: m.provider,
      category: m.category,
      ...(m.operation === NO_OPERATION ? {} : { operation: m.operation }),
      cost: share(perAsk.cost, i),
      bytes: share(perAsk.bytes, i),
      requests: Math.max(1, share(perAsk.requests, i)),
    };
    i++;
    return arrival;
  };
  if (recorded > 0) {
    // Recorded by second: the first asks spread over the seconds as recorded (exactly the
    // recorded counts when they sum to the first asks), each second's at independent uniform
    // times within it, as Poisson arrivals given their count are: spaced evenly, they lost the
    // clumps that cause deferrals (fidelity.test.ts).
    let before = 0;
    for (const [field, n] of seconds) {
      const from = Math.round((before * k.fresh) / recorded);
      before += n;
      const count = Math.round((before * k.fresh) / recorded) - from;
      const second = Number(field.slice(1));
      const within = Array.from({ length: count }, () => Math.floor(random() * 1000)).sort(
        (a, b) => a - b,
      );
      for (const ms of within) yield call(m.minuteMs + second * 1000 + ms);
    }
    return;
  }
  for (let j = 0; j < k.fresh; j++) {
    yield call(Math.floor(m.minuteMs + ((j + random()) * MINUTE_MS) / k.fresh));
  }
}

/** A plan as the simulator takes it: each minute's calls made when the replay reaches it. */
export function arrivalFeed(plan: DemandPlan, seed: number): ArrivalFeed {
  const byMinute = new Map(plan.minutes.map((m) => [m.minuteMs, m.kinds]));
  return {
    minutes: plan.minutes.map((m) => m.minuteMs),
    streams: (minuteMs) => (byMinute.get(minuteMs) ?? []).map((k) => kindArrivals(k, seed)),
  };
}

/**
 * The calls of recorded demand within the range, all at once and in time order (for small
 * demand and tests; a replay takes them minute by minute through arrivalFeed).
 */
export function arrivalsFrom(
  minutes: readonly DemandMinute[],
  seed: number,
  range?: { fromMs: number; toMs: number },
): Arrival[] {
  const arrivals: Arrival[] = [];
  for (const { kinds } of demandPlan(minutes, range).minutes) {
    for (const k of kinds) {
      for (const a of kindArrivals(k, seed)) {
        if (!range || (a.atMs >= range.fromMs && a.atMs < range.toMs)) arrivals.push(a);
      }
    }
  }
  return arrivals.sort((a, b) => a.atMs - b.atMs);
}

/** The i-th of whole amounts averaging `mean` (exact when the mean is whole). */
function share(mean: number, i: number): number {
  if (Number.isInteger(mean)) return mean;
  return Math.floor((i + 1) * mean) - Math.floor(i * mean);
}
