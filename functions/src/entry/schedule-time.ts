import type { ScheduledEvent } from 'firebase-functions/v2/scheduler';

/**
 * The time a scheduled execution is for: Cloud Scheduler sends it with every attempt
 * (`X-CloudScheduler-ScheduleTime`, the slot of the cron expression, the same on each retry),
 * and firebase-functions hands it over as `event.scheduleTime` (the current time when the
 * header is missing). Handlers whose work is defined by their slot use it rather than the
 * clock: a retry then does the same work, and the local stack can fire them as of any time.
 * Anything unreadable falls back to `now`.
 */
export function scheduleTimeMs(
  event: Pick<ScheduledEvent, 'scheduleTime'>,
  now: () => number = Date.now,
): number {
  const scheduled = Date.parse(event.scheduleTime);
  return Number.isFinite(scheduled) ? scheduled : now();
}
