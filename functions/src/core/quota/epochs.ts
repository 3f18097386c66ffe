import type { Category, Limit, Provider } from '../config';
import { effectiveShares } from './allocation';
import { type WindowUnit, windowAt } from './windows';

/**
 * A provider's published allocation: every change of a category's share, and every edit of the
 * provider's limits, as epochs that take effect at a published instant. Instances cache it for
 * a few seconds, so a change starts `ALLOCATION_LEAD_MS` after its own publication: by then
 * every instance knows of it and all switch token lines at the same instant.
 */
export interface Allocation {
  /** Each category's shares, oldest first. A category without an epoch in force has 0%. */
  categories: Record<string, ShareEpoch[]>;
  /** The provider's limits, oldest first. */
  limits: LimitsEpoch[];
  /** Fixed windows in progress: their allowance, fixed once when first published inside. */
  windows: Record<string, FixedWindow>;
  updatedAtMs: number;
}

/** A category's share, in force from `startMs` (0: always) until the next epoch starts. */
export interface ShareEpoch {
  percent: number;
  startMs: number;
}

/** The provider's limits in force from `startMs` until the next epoch starts. */
export interface LimitsEpoch {
  startMs: number;
  limits: Limit[];
  safetyMarginMs: number;
  /**
   * Names each limit's token accounting (claim documents and ledgers). A limit keeps its name
   * across edits of other limits and reorderings; a new limit gets a new one.
   */
  keys: string[];
}

/**
 * What a fixed window allows, fixed when the window began: the limit and shares in force at
 * its start. Nothing published inside the window can change it, so a window's claim blocks
 * are the same for every instance and every share change, and a category added inside the
 * window has no allowance in it.
 */
export interface FixedWindow {
  windowId: string;
  limit: number;
  blockTokens: number | null;
  percents: Record<string, number>;
}

/** A change takes effect this long after its publication (instances cache for 5 s at most). */
export const ALLOCATION_LEAD_MS = 15_000;
/** Epochs that ended longer ago than this are dropped: no instance plans with them any more. */
export const EPOCH_RETENTION_MS = 10 * 60_000;
/** At most this many epochs per category are kept (the oldest go first). */
export const MAX_EPOCHS = 32;

/** The epoch in force at `atMs` (the newest started at or before it), and when it ends. */
export function epochAt<T extends { startMs: number }>(
  epochs: readonly T[],
  atMs: number,
): { epoch: T; endMs?: number } | undefined {
  for (let i = epochs.length - 1; i >= 0; i--) {
    const epoch = epochs[i]!;
    if (epoch.startMs <= atMs) return { epoch, endMs: epochs[i + 1]?.startMs };
  }
  return undefined;
}

export function percentAt(epochs: readonly ShareEpoch[] | undefined, atMs: number): number {
  return epochs ? (epochAt(epochs, atMs)?.epoch.percent ?? 0) : 0;
}

/** The stable name of a limit: what it limits, not where it stands in the list. */
export function limitIdentity(limit: Limit): string {
  switch (limit.kind) {
    case 'tokenBucket':
      return 'bucket';
    case 'operation':
      return `op:${limit.operation}`;
    case 'window':
      return `window:${limit.unit}:${limit.measure}`;
    case 'concurrency':
      return 'concurrency';
  }
}

/**
 * Keys for a new epoch's limits: a limit with the identity of one in the previous epoch keeps
 * its key; a new one is named by its identity (its position, for the first epoch, which is
 * what keys were before epochs existed).
 */
function keysFor(limits: Limit[], previous: LimitsEpoch | undefined): string[] {
  const seen = new Map<string, number>();
  const used = new Set<string>();
  return limits.map((limit, i) => {
    const identity = limitIdentity(limit);
    const nth = seen.get(identity) ?? 0;
    seen.set(identity, nth + 1);
    if (!previous) return String(i);
    let match = 0;
    const index = previous.limits.findIndex(
      (l) => limitIdentity(l) === identity && match++ === nth,
    );
    let key = index >= 0 ? previous.keys[index]! : nth === 0 ? identity : `${identity}#${nth}`;
    while (used.has(key)) key = `${key}'`;
    used.add(key);
    return key;
  });
}

function sameLimits(epoch: LimitsEpoch, provider: Provider): boolean {
  return (
    epoch.safetyMarginMs === provider.safetyMarginMs &&
    JSON.stringify(epoch.limits) === JSON.stringify(provider.limits)
  );
}

/** When a change published at `nowMs` starts: a full lead from now, and after every earlier one. */
function changeStart(nowMs: number, last: { startMs: number } | undefined): number {
  return Math.max(nowMs + ALLOCATION_LEAD_MS, (last?.startMs ?? 0) + 1);
}

/** Keeps what any instance may still plan with: the epoch in force a while ago and all later. */
function retain<T extends { startMs: number }>(epochs: T[], nowMs: number): T[] {
  let first = 0;
  let inForce = 0;
  for (let i = 1; i < epochs.length; i++) {
    if (epochs[i]!.startMs <= nowMs - EPOCH_RETENTION_MS) first = i;
    if (epochs[i]!.startMs <= nowMs) inForce = i;
  }
  // Past the cap, old epochs go first, but never the one in force now: with only pending ones
  // left the category would have no share until the first of them starts.
  if (epochs.length - first > MAX_EPOCHS) first = Math.min(inForce, epochs.length - MAX_EPOCHS);
  return epochs.slice(first);
}

/** A window limit's allowance inputs at `atMs`: fixed if published inside, else from epochs. */
export function fixedWindow(
  allocation: Allocation,
  key: string,
  unit: WindowUnit,
  atMs: number,
): FixedWindow | undefined {
  const window = windowAt(unit, atMs);
  const fixed = allocation.windows[key];
  if (fixed && fixed.windowId === window.id) return fixed;
  // The limits and shares in force at the window's start; for a limit added inside the window,
  // those in force when it was added (else the window would allow nothing until it ends).
  let fixedAt = window.startMs;
  let limits = epochAt(allocation.limits, fixedAt)?.epoch;
  if (!limits?.keys.includes(key)) {
    const added = allocation.limits.find(
      (e) => e.startMs > window.startMs && e.startMs < window.endMs && e.keys.includes(key),
    );
    if (added) {
      limits = added;
      fixedAt = added.startMs;
    }
  }
  const index = limits?.keys.indexOf(key) ?? -1;
  const limit = index >= 0 ? limits!.limits[index] : undefined;
  if (limit?.kind !== 'window') return undefined;
  const percents: Record<string, number> = {};
  for (const [category, epochs] of Object.entries(allocation.categories)) {
    const percent = percentAt(epochs, fixedAt);
    if (percent > 0) percents[category] = percent;
  }
  return {
    windowId: window.id,
    limit: limit.limit,
    blockTokens: limit.blockTokens ?? null,
    percents,
  };
}

/**
 * The next allocation of a provider: shares from its categories, limits from its configuration.
 * Unchanged values keep their epochs; a change appends an epoch starting a full lead from now
 * (and after any pending one, which stays in force until then). Windows in progress are fixed
 * first, from the epochs as they were, so nothing published now reaches them.
 */
export function nextAllocation(
  existing: Allocation | undefined,
  provider: Provider,
  categories: Category[],
  nowMs: number,
): { allocation: Allocation; changed: string[] } {
  const changed: string[] = [];
  const windows: Record<string, FixedWindow> = {};
  if (existing) {
    const inForce = epochAt(existing.limits, nowMs)?.epoch;
    inForce?.limits.forEach((limit, i) => {
      if (limit.kind !== 'window') return;
      const key = inForce.keys[i]!;
      const fixed = fixedWindow(existing, key, limit.unit, nowMs);
      if (fixed) windows[key] = fixed;
    });
  }

  const shares: Record<string, ShareEpoch[]> = {};
  const ours = categories.filter((c) => c.provider === provider.id);
  for (const share of effectiveShares(ours)) {
    const before = existing?.categories[share.category] ?? [];
    const last = before.at(-1);
    if (!existing) {
      // First publication: the share has been in force "always", so the bucket starts full.
      shares[share.category] = [{ percent: share.percent, startMs: 0 }];
    } else if (last && Math.abs(last.percent - share.percent) < 1e-9) {
      shares[share.category] = retain(before, nowMs);
    } else {
      const epoch = { percent: share.percent, startMs: changeStart(nowMs, last) };
      shares[share.category] = retain([...before, epoch], nowMs);
      changed.push(share.category);
    }
  }
  // A category that is gone keeps its share until a zero epoch starts, like any other change.
  for (const [category, before] of Object.entries(existing?.categories ?? {})) {
    if (shares[category]) continue;
    const last = before.at(-1);
    if (!last || last.percent === 0) {
      if (last && last.startMs > nowMs - EPOCH_RETENTION_MS) shares[category] = before;
      continue;
    }
    shares[category] = retain(
      [...before, { percent: 0, startMs: changeStart(nowMs, last) }],
      nowMs,
    );
    changed.push(category);
  }

  const lastLimits = existing?.limits.at(-1);
  let limits = existing?.limits ?? [];
  if (!lastLimits || !sameLimits(lastLimits, provider)) {
    const epoch: LimitsEpoch = {
      startMs: lastLimits ? changeStart(nowMs, lastLimits) : 0,
      limits: provider.limits,
      safetyMarginMs: provider.safetyMarginMs,
      keys: keysFor(provider.limits, lastLimits),
    };
    limits = [...limits, epoch];
    if (lastLimits) changed.push('limits');
  }
  return {
    allocation: { categories: shares, limits: retain(limits, nowMs), windows, updatedAtMs: nowMs },
    changed,
  };
}
