import { type FieldIssue, maxSharePercent, type ProviderStatus } from '@tollgate/client';

/** A provider limit as getStatus answers it. */
export type Limit = ProviderStatus['limits'][number];

/** Pure helpers of the dashboard: formatting, refusals, forecasts (unit-tested). */

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** The largest |epoch ms| a Date holds. */
const MAX_DATE_MS = 8.64e15;

export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) {
    return '—';
  }
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function fmtNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function fmtPercent(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return `${n.toLocaleString('en-US', { maximumFractionDigits: digits })}%`;
}

/** A refused call as the page shows it: the code, the message, each field and its message. */
export interface Refusal {
  code: string;
  message: string;
  issues: FieldIssue[];
}

export function refusalOf(error: unknown): Refusal {
  const e = (error ?? {}) as {
    code?: unknown;
    message?: unknown;
    issues?: unknown;
    details?: unknown;
  };
  const code = typeof e.code === 'string' ? e.code.replace(/^functions\//, '') : 'error';
  const message = typeof e.message === 'string' ? e.message : String(error);
  const raw = Array.isArray(e.issues)
    ? e.issues
    : ((e.details as { issues?: unknown } | null | undefined)?.issues ?? []);
  const issues = (Array.isArray(raw) ? raw : []).filter(
    (i): i is FieldIssue =>
      typeof i === 'object' &&
      i !== null &&
      typeof (i as FieldIssue).path === 'string' &&
      typeof (i as FieldIssue).message === 'string',
  );
  return { code, message, issues };
}

/**
 * The highest share a category may be given without the provider's shares summing past 100%,
 * by the server's own rule (maxSharePercent of the API module: other categories whose stored
 * `paused` flag is off count max(share, override)), rounded down to 0.01.
 */
export function maxShareFor(
  categories: ReadonlyArray<{
    id: string;
    provider: string;
    pausedFlag: boolean;
    configuredSharePercent: number;
    overridePercent: number | null;
  }>,
  categoryId: string,
): number {
  return maxSharePercent(
    categories.map((c) => ({
      id: c.id,
      provider: c.provider,
      paused: c.pausedFlag,
      sharePercent: c.configuredSharePercent,
      overridePercent: c.overridePercent,
    })),
    categoryId,
  );
}

/**
 * A share typed in the share box: a plain decimal (`50`, `12.5`, `.5`, `5.` as a number input
 * may give it), else null: an empty box is not 0, and `0x32`, `1e1` or `Infinity` are not
 * shares (Number() would read the first two as 50 and 10).
 */
export function parseShare(text: string): number | null {
  const trimmed = text.trim();
  if (!/^(\d+\.?\d*|\.\d+)$/.test(trimmed)) return null;
  return Number(trimmed);
}

const WINDOW_MS: Record<string, number> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  month: 30 * 86_400_000,
};

export function windowMs(unit: string): number {
  return WINDOW_MS[unit] ?? 60_000;
}

/** When the current calendar window of `unit` resets (UTC), after `nowMs`. */
export function windowResetAt(unit: string, nowMs: number): number {
  const d = new Date(nowMs);
  if (unit === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  const size = windowMs(unit);
  return Math.floor(nowMs / size) * size + size;
}

/** A limit's bound per second, where it has one (what a rate of use compares with). */
export function boundPerSecond(limit: Limit): number | null {
  switch (limit.kind) {
    case 'tokenBucket':
      return limit.refillPerSecond;
    case 'operation':
      return limit.ratePerSecond;
    case 'window':
      return limit.limit / (windowMs(limit.unit) / 1000);
    default:
      return null;
  }
}

export function describeLimit(limit: Limit): string {
  switch (limit.kind) {
    case 'tokenBucket':
      return `token bucket: ${fmtNumber(limit.capacity)} tokens, ${fmtNumber(limit.refillPerSecond, 3)}/s refill`;
    case 'operation':
      return `${limit.operation}: ${fmtNumber(limit.ratePerSecond, 4)}/s, burst ${fmtNumber(limit.burst)}`;
    case 'window':
      return `${fmtNumber(limit.limit)} ${limit.measure ?? 'cost'} per ${limit.unit}`;
    default:
      return `at most ${fmtNumber(limit.max)} at once`;
  }
}

/**
 * At a rate of use (units per second, measured over the recent usage window): when the window
 * would be used up, against when it resets. Null when there is no bound or no use.
 */
export function forecastWindow(
  limit: Limit,
  ratePerSecond: number,
  nowMs: number,
): { resetsAt: number; runsOutAt: number | null; runsOutFirst: boolean } | null {
  if (limit.kind !== 'window') return null;
  const resetsAt = windowResetAt(limit.unit, nowMs);
  if (!(ratePerSecond > 0)) return { resetsAt, runsOutAt: null, runsOutFirst: false };
  // The use so far this window is not served; assume the window started at this rate.
  const start = resetsAt - windowMs(limit.unit);
  const usedSoFar =
    ratePerSecond * ((nowMs - Math.max(start, nowMs - windowMs(limit.unit))) / 1000);
  const left = Math.max(0, limit.limit - usedSoFar);
  const runsOutAt = nowMs + (left / ratePerSecond) * 1000;
  return { resetsAt, runsOutAt, runsOutFirst: runsOutAt < resetsAt };
}

/** The phase marks of a default schedule (30/75/95%), as fractions of the bar. */
export const DEFAULT_PHASE_MARKS = [30, 75, 95] as const;
