import { z } from 'zod';

/**
 * A collection moves through phases by overall completion; each phase sets its category's share
 * of the provider. Phases only move forward: a target raised later lowers the completion but
 * never takes a collection back to an earlier phase (its share was already given away).
 */

export const phaseSchema = z.object({
  /** Overall completion (percent) at which a collection enters this phase. */
  fromPercent: z.number().min(0).max(100),
  /** The category's share of its provider while a collection is in this phase. */
  sharePercent: z.number().min(0).max(100),
});
export type Phase = z.infer<typeof phaseSchema>;

/** The SmartProxy/Buck.cheap runbook: 15% -> 10% at 30%, -> 7% at 75%, -> 4.2% at 95%. */
export const DEFAULT_PHASES: readonly Phase[] = [
  { fromPercent: 0, sharePercent: 15 },
  { fromPercent: 30, sharePercent: 10 },
  { fromPercent: 75, sharePercent: 7 },
  { fromPercent: 95, sharePercent: 4.2 },
];

/** Phase 1 starts at 0%; every later phase starts at a higher completion than the one before. */
export const phaseScheduleSchema = z
  .array(phaseSchema)
  .min(1)
  .superRefine((phases, ctx) => {
    if (phases[0]?.fromPercent !== 0) {
      ctx.addIssue({ code: 'custom', path: [0, 'fromPercent'], message: 'phase 1 starts at 0%' });
    }
    for (let i = 1; i < phases.length; i++) {
      if (phases[i]!.fromPercent <= phases[i - 1]!.fromPercent) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'fromPercent'],
          message: 'must be above the previous phase',
        });
      }
    }
  });
export type PhaseSchedule = z.infer<typeof phaseScheduleSchema>;

/**
 * The highest phase (1-based) that `done` of `target` units reaches. Compared as
 * done * 100 >= fromPercent * target, so 240 of 800 is exactly 30% without float drift.
 */
export function phaseReached(schedule: readonly Phase[], done: number, target: number): number {
  let phase = 1;
  for (let i = 1; i < schedule.length; i++) {
    if (done * 100 >= schedule[i]!.fromPercent * target) phase = i + 1;
  }
  return phase;
}

/**
 * The share of a phase. A phase beyond the schedule (the schedule was shortened at runtime)
 * keeps the last phase's share.
 */
export function shareOfPhase(schedule: readonly Phase[], phase: number): number {
  const index = Math.min(Math.max(phase, 1), schedule.length) - 1;
  return schedule[index]!.sharePercent;
}

/**
 * Moves forward to the phase `done` of `target` reaches. `entered` lists every phase passed in
 * order, so one jump from 20% to 80% enters phase 2 and phase 3 and the recorded share sequence
 * always follows the schedule.
 */
export function advancePhase(
  schedule: readonly Phase[],
  current: number,
  done: number,
  target: number,
): { phase: number; entered: number[] } {
  const reached = phaseReached(schedule, done, target);
  const entered: number[] = [];
  for (let phase = current + 1; phase <= reached; phase++) entered.push(phase);
  return { phase: Math.max(current, reached), entered };
}
