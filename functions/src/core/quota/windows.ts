import type { windowUnits } from '../limit-schema';

export type WindowUnit = (typeof windowUnits)[number];

const FIXED_MS: Record<Exclude<WindowUnit, 'month'>, number> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** A fixed window: [startMs, endMs). Months are calendar months in UTC, as billing counts them. */
export interface Window {
  id: string;
  startMs: number;
  endMs: number;
}

export function windowAt(unit: WindowUnit, atMs: number): Window {
  if (unit === 'month') {
    const date = new Date(atMs);
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth();
    return {
      id: `${year}-${String(month + 1).padStart(2, '0')}`,
      startMs: Date.UTC(year, month, 1),
      endMs: Date.UTC(year, month + 1, 1),
    };
  }
  const size = FIXED_MS[unit];
  const index = Math.floor(atMs / size);
  return { id: String(index), startMs: index * size, endMs: (index + 1) * size };
}

export function nextWindow(unit: WindowUnit, window: Window): Window {
  return windowAt(unit, window.endMs);
}
