import { z } from 'zod';

/**
 * What every Tollgate task carries: the handler's payload and the earliest time it may run.
 * `notBefore` lets a handler refuse an early delivery (the local Tasks emulator ignores
 * schedule times) instead of running work before its time.
 */
export const taskEnvelopeSchema = z.object({
  payload: z.unknown(),
  notBefore: z.iso.datetime().optional(),
});
export type TaskEnvelope = z.infer<typeof taskEnvelopeSchema>;

export function wrapTask(payload: unknown, scheduleTime?: Date): TaskEnvelope {
  return scheduleTime ? { payload, notBefore: scheduleTime.toISOString() } : { payload };
}

/** Milliseconds the task is early by, or 0 when it may run now. */
export function earlyByMs(envelope: TaskEnvelope, now: Date): number {
  if (!envelope.notBefore) return 0;
  return Math.max(0, Date.parse(envelope.notBefore) - now.getTime());
}

/** Cloud Tasks ids: letters, digits, hyphens and underscores, at most 500 characters. */
export function taskId(...parts: string[]): string {
  return parts
    .join('-')
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 500);
}
