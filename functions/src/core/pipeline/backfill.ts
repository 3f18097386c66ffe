import { z } from 'zod';

/**
 * Auto-sync backfills (the SP-API vendor real-time sales pattern). Each cycle fetches from the
 * watermark (the end of the contiguous data known to be stored) up to now minus a safe lag,
 * always re-fetching at least the last few hours (the upstream restates recent data), in
 * chunks. A chunk counts only once its data is stored; the watermark moves only over a gap-free
 * run of stored chunks, so whatever failed is fetched again next cycle.
 */

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

export const backfillConfigSchema = z.object({
  /**
   * Every cycle re-fetches at least this much, however recent the watermark. Positive, so every
   * cycle has a window and the first one sets where the backfill begins.
   */
  minLookbackHours: z.number().positive().default(3),
  /** Data younger than this is not final upstream yet; windows end this long before now. */
  safeLagMinutes: z.number().nonnegative().default(5),
  chunkHours: z.number().positive().default(6),
  /** Catching up after an outage goes oldest first, this many chunks per cycle. */
  maxChunksPerCycle: z.number().int().positive().default(12),
});
export type BackfillConfig = z.infer<typeof backfillConfigSchema>;
export const DEFAULT_BACKFILL_CONFIG: BackfillConfig = backfillConfigSchema.parse({});

/** A half-open window [startMs, endMs). */
export interface Interval {
  startMs: number;
  endMs: number;
}

export interface Chunk extends Interval {
  /** Deterministic, for task ids and logs. */
  id: string;
}

const intervalSchema = z
  .object({ startMs: z.number().int(), endMs: z.number().int() })
  .refine((i) => i.endMs > i.startMs, 'endMs must be after startMs');

export const backfillStateSchema = z.object({
  /** Everything before this is stored; null before the first cycle. */
  watermarkMs: z.number().int().nullable().default(null),
  /** Stored windows after the watermark, behind a gap: sorted, disjoint, not touching. */
  completed: z.array(intervalSchema).default([]),
});
export type BackfillState = z.infer<typeof backfillStateSchema>;
export const EMPTY_BACKFILL_STATE: BackfillState = { watermarkMs: null, completed: [] };

export interface BackfillPlan {
  startMs: number;
  endMs: number;
  /** Windows to fetch, oldest first. */
  chunks: Chunk[];
  /** Windows already stored in an earlier cycle and not re-fetched. */
  skipped: Interval[];
  /** Windows left for a later cycle by maxChunksPerCycle. */
  deferred: Interval[];
}

export function chunkId(window: Interval): string {
  return `${window.startMs}-${window.endMs}`;
}

/** Splits [startMs, endMs) into consecutive chunks of chunkMs; the last one may be shorter. */
export function chunkWindow(startMs: number, endMs: number, chunkMs: number): Chunk[] {
  if (!(chunkMs > 0)) throw new RangeError('chunkMs must be positive');
  const chunks: Chunk[] = [];
  for (let start = startMs; start < endMs; start += chunkMs) {
    const window = { startMs: start, endMs: Math.min(start + chunkMs, endMs) };
    chunks.push({ ...window, id: chunkId(window) });
  }
  return chunks;
}

export function planBackfill(
  state: BackfillState | undefined,
  now: number,
  config: BackfillConfig = DEFAULT_BACKFILL_CONFIG,
): BackfillPlan {
  const endMs = now - Math.round(config.safeLagMinutes * MINUTE_MS);
  const freshFromMs = endMs - Math.round(config.minLookbackHours * HOUR_MS);
  const watermark = state?.watermarkMs ?? null;
  const startMs = watermark === null ? freshFromMs : Math.min(watermark, freshFromMs);
  const chunkMs = Math.round(config.chunkHours * HOUR_MS);

  // Stored windows are skipped, except in the fresh tail, which is always fetched again.
  const skipped = merge(
    (state?.completed ?? [])
      .map((w) => ({
        startMs: Math.max(w.startMs, startMs),
        endMs: Math.min(w.endMs, freshFromMs),
      }))
      .filter((w) => w.endMs > w.startMs),
  );
  const chunks: Chunk[] = [];
  let cursor = startMs;
  for (const gap of [...skipped, { startMs: endMs, endMs }]) {
    if (gap.startMs > cursor) chunks.push(...chunkWindow(cursor, gap.startMs, chunkMs));
    cursor = Math.max(cursor, gap.endMs);
  }
  // Under the cap, data not stored yet comes first (oldest first, so the watermark moves);
  // re-fetches of stored data below the watermark get what room is left (newest first: recent
  // data is what the upstream restates). Otherwise a lookback longer than a cycle's chunks
  // would re-fetch the same old chunks forever.
  const isRefresh = (c: Chunk) => watermark !== null && c.endMs <= watermark;
  const cap = config.maxChunksPerCycle;
  const needed = chunks.filter((c) => !isRefresh(c)).slice(0, cap);
  const room = cap - needed.length;
  const refresh = room > 0 ? chunks.filter(isRefresh).slice(-room) : [];
  const kept = new Set([...refresh, ...needed]);
  return {
    startMs,
    endMs,
    chunks: chunks.filter((c) => kept.has(c)),
    skipped,
    deferred: merge(chunks.filter((c) => !kept.has(c))),
  };
}

export type ChunkResult =
  | { chunk: Interval; outcome: 'stored' }
  | { chunk: Interval; outcome: 'quota-error'; message?: string }
  | { chunk: Interval; outcome: 'other-error'; message: string }
  /**
   * Never called, left unmarked: the run stopped before it (a quota error, the gate's "later",
   * the deadline; the auto-sync cycle in adapters/pipeline/autosync.ts runs the chunks).
   */
  | { chunk: Interval; outcome: 'not-attempted' };

export interface BackfillFinding {
  severity: 'error';
  chunk: Interval;
  message: string;
}

export interface CycleOutcome {
  state: BackfillState;
  /** A quota error ended the backfill: the cycle's audits must not call the upstream either. */
  skipAudits: boolean;
  quotaError: ChunkResult | null;
  /** Other errors, to be logged; the chunks after them were still attempted. */
  findings: BackfillFinding[];
  stored: Interval[];
  /** Not stored this cycle: fetched again next cycle unless stored earlier. */
  unfinished: Interval[];
}

/**
 * Folds one cycle's chunk results into the state. Every stored chunk is recorded, in any order
 * (chunks fetched in parallel may land after a quota error); the watermark advances over the
 * stored windows that join it without a gap, and stored windows behind a gap stay recorded.
 * Before the first cycle the watermark starts at the earliest chunk: that is where the
 * backfill begins.
 */
export function applyChunkResults(
  state: BackfillState | undefined,
  results: readonly ChunkResult[],
): CycleOutcome {
  const stored = results.filter((r) => r.outcome === 'stored').map((r) => window(r.chunk));
  const unfinished = results.filter((r) => r.outcome !== 'stored').map((r) => window(r.chunk));
  const quotaError = results.find((r) => r.outcome === 'quota-error') ?? null;
  const findings = results.flatMap((r): BackfillFinding[] =>
    r.outcome === 'other-error'
      ? [{ severity: 'error', chunk: window(r.chunk), message: r.message }]
      : [],
  );

  const previous = state ?? EMPTY_BACKFILL_STATE;
  let watermarkMs = previous.watermarkMs;
  if (watermarkMs === null && results.length > 0) {
    watermarkMs = Math.min(...results.map((r) => r.chunk.startMs));
  }
  let completed = merge([...previous.completed, ...stored]);
  if (watermarkMs !== null) {
    for (const w of completed) {
      if (w.startMs <= watermarkMs && w.endMs > watermarkMs) watermarkMs = w.endMs;
    }
    const mark = watermarkMs;
    completed = completed.filter((w) => w.startMs > mark);
  }
  return {
    state: { watermarkMs, completed },
    skipAudits: quotaError !== null,
    quotaError,
    findings,
    stored,
    unfinished,
  };
}

function window(i: Interval): Interval {
  return { startMs: i.startMs, endMs: i.endMs };
}

/** Sorted, with overlapping or touching windows joined. */
export function merge(windows: readonly Interval[]): Interval[] {
  const sorted = windows
    .filter((w) => w.endMs > w.startMs)
    .map(window)
    .sort((a, b) => a.startMs - b.startMs);
  const merged: Interval[] = [];
  for (const w of sorted) {
    const last = merged.at(-1);
    if (last && w.startMs <= last.endMs) last.endMs = Math.max(last.endMs, w.endMs);
    else merged.push(w);
  }
  return merged;
}
