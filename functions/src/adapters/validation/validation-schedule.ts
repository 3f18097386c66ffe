// The schedule of the data validation: the UTC hours it runs at, the run id of a time (its slot)
// and the period a failing product gets one re-collection in.

/** The schedule slot of a time: its UTC hour, e.g. `2026-01-10T06`. */
export function validationRunId(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 13);
}

/** The UTC hours the scheduled validation runs at (entry/validation/data-validation.ts builds its cron from them). */
export const VALIDATION_HOURS = [6, 18] as const;

/**
 * The period between two scheduled validations that a time falls in, named by the hour it
 * starts (`2026-01-10T06` from 06:00 to 17:59). A failing product gets one re-collection per
 * period, however many runs (re-fired schedules, manual `validateData`) find it failing.
 */
export function fixSlot(atMs: number): string {
  const day = Math.floor(atMs / 86_400_000) * 86_400_000;
  const starts = [
    ...VALIDATION_HOURS.map((h) => day - 86_400_000 + h * 3_600_000),
    ...VALIDATION_HOURS.map((h) => day + h * 3_600_000),
  ];
  return validationRunId(Math.max(...starts.filter((start) => start <= atMs)));
}
