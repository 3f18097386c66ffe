import { ConfigError } from '../config';
import { isPaused } from './allocation';
import {
  type AcquireRequest,
  MAINTENANCE_RETRY_MS,
  PAUSED_RETRY_MS,
  type RetryAt,
} from './decision';
import type { GateContext } from './gate-ports';
import { segmentAt } from './limits';

/**
 * What stops a call before any token is looked at: maintenance, a category unknown to the
 * provider, a pause (the category's or the allocation's), a cooldown, an upstream meter in
 * deficit. Checked when a call asks, and again right before a granted call goes out.
 */
export function precheck(
  context: GateContext,
  request: AcquireRequest,
  now: number,
): RetryAt | undefined {
  if (context.flags.maintenance) {
    return { kind: 'retryAt', atMs: now + MAINTENANCE_RETRY_MS, reason: 'maintenance' };
  }
  if (!context.category || context.category.provider !== request.provider) {
    throw new ConfigError(`categories/${request.category}`, [
      {
        path: 'provider',
        message: `no category "${request.category}" of provider "${request.provider}"`,
      },
    ]);
  }
  if (isPaused(context.category)) {
    return { kind: 'retryAt', atMs: now + PAUSED_RETRY_MS, reason: 'paused' };
  }
  const segment = segmentAt(context.allocation, request.category, now);
  if (!segment || segment.percent <= 0) {
    // Paused in the allocation (or not yet in it): back when a published share starts.
    const atMs = segment?.endMs ?? now + PAUSED_RETRY_MS;
    return { kind: 'retryAt', atMs: Math.min(atMs, now + PAUSED_RETRY_MS), reason: 'paused' };
  }
  if (context.cooldownUntilMs !== undefined && context.cooldownUntilMs > now) {
    return { kind: 'retryAt', atMs: context.cooldownUntilMs, reason: 'cooldown' };
  }
  if (context.meterBlockedUntilMs !== undefined && context.meterBlockedUntilMs > now) {
    return {
      kind: 'retryAt',
      atMs: context.meterBlockedUntilMs,
      reason: 'tokens',
      detail: 'upstream balance in deficit',
    };
  }
  return undefined;
}
