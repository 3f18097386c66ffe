import { type AcquireRequest, PAUSED_RETRY_MS, type RetryAt } from './decision';
import { CostExceedsLimitError } from './errors';
import type { GateContext } from './gate-ports';
import {
  type AcquireAmounts,
  maxGrantable,
  type PlannedLimit,
  planLimits,
  segmentAt,
} from './limits';
import { windowAt } from './windows';

/**
 * A call whose cost the category's share cannot carry now. Refused only when no share could
 * ever carry it; otherwise it waits for the pending change or the next window that can, or,
 * with none known, for an operator to raise the share.
 */
export function beyondShare(
  context: GateContext,
  request: AcquireRequest,
  amounts: AcquireAmounts,
  limit: PlannedLimit,
  now: number,
): RetryAt {
  const later: number[] = [];
  const segment = segmentAt(context.allocation, request.category, now);
  if (segment?.endMs !== undefined) later.push(segment.endMs);
  const margin = segment?.limits.safetyMarginMs ?? 0;
  if (limit.limit.kind === 'window') later.push(windowAt(limit.limit.unit, now).endMs + margin / 2);
  for (const atMs of later.sort((a, b) => a - b)) {
    const then = planLimits(context.allocation, request.provider, request.category, amounts, atMs);
    const same = then.find((l) => l.key === limit.key);
    if (!same || same.amount <= same.source.maxCost(atMs)) {
      return {
        kind: 'retryAt',
        atMs,
        reason: limit.reason,
        detail: `${limit.label}: share changes`,
      };
    }
  }
  // The most any share could carry: of this limit as in force now or as published to come.
  const key = limit.key.slice(limit.key.lastIndexOf('~') + 1);
  const everMax = Math.max(
    0,
    ...context.allocation.limits
      .filter((epoch) => epoch.startMs >= (segment?.limits.startMs ?? 0))
      .flatMap((epoch) => {
        const index = epoch.keys.indexOf(key);
        const max = index >= 0 ? maxGrantable(epoch.limits[index]!, 100, epoch.safetyMarginMs) : 0;
        return max === undefined ? [] : [max];
      }),
  );
  if (limit.amount > everMax) {
    throw new CostExceedsLimitError(request.provider, limit.label, limit.amount, everMax);
  }
  const max = limit.source.maxCost(now);
  return {
    kind: 'retryAt',
    atMs: now + PAUSED_RETRY_MS,
    reason: limit.reason,
    detail: `${limit.label}: the category's share carries at most ${max} of ${limit.amount}`,
    shareCarries: { asked: limit.amount, max },
  };
}
