import { z } from 'zod';

/**
 * Responses for one work item arriving from several sources (the Bittensor miners pattern)
 * are held until enough have arrived (quorum), the first one is old enough (timeout) or an
 * operator forces a flush, and are then written once as one aggregate. Pure and immutable:
 * every step returns a new state, and the clock is the caller's.
 */

export const aggregationConfigSchema = z.object({
  /** Distinct sources that make an item complete. */
  minResponses: z.number().int().positive().default(3),
  /** An item is written this long after its first response, however many arrived. */
  timeoutSeconds: z.number().positive().default(60),
  /** A value agrees when within this fraction of the median (0.02: 2%). */
  agreementTolerance: z.number().nonnegative().default(0.02),
  /**
   * How long a written item is remembered, so a straggler is dropped instead of starting a
   * second aggregate. Beyond it the adapter's create-if-absent write is the guard.
   */
  rememberWrittenSeconds: z.number().positive().default(3600),
});
export type AggregationConfig = z.infer<typeof aggregationConfigSchema>;

export const defaultAggregationConfig: AggregationConfig = aggregationConfigSchema.parse({});

export interface SourceResponse {
  workItemId: string;
  /** Who answered (a miner's hotkey, a proxy region...); each source counts once per item. */
  source: string;
  /** The extracted value (a price); null when the source answered but found none. */
  value: number | null;
  /** The source's own extraction confidence, 0..1, if it reports one. */
  confidence?: number;
}

export interface ReceivedResponse extends SourceResponse {
  receivedAtMs: number;
}

export interface PendingItem {
  workItemId: string;
  firstAtMs: number;
  /** In arrival order. */
  responses: readonly ReceivedResponse[];
}

export interface AggregationState {
  readonly pending: ReadonlyMap<string, PendingItem>;
  /** Work items already written, with when; responses for them are late. */
  readonly written: ReadonlyMap<string, number>;
}

export type AddOutcome = 'added' | 'duplicate' | 'late';
export type FlushReason = 'quorum' | 'timeout' | 'forced';

export interface DueItem {
  workItemId: string;
  reason: 'quorum' | 'timeout';
}

export interface AggregateValues {
  /** Median of the values given; null when no source produced one. */
  value: number | null;
  /**
   * Share of all responses within tolerance of the median; sources that found no value count
   * against it, so one value among three responses is 1/3, not full agreement.
   */
  agreement: number;
  /** Every source that responded, sorted. */
  sources: string[];
  agreeing: string[];
  /** Gave a value outside the tolerance. */
  dissenting: string[];
  /** Responded without a value. */
  failed: string[];
  min: number | null;
  max: number | null;
  /** Mean confidence of the agreeing responses that reported one. */
  confidence: number | null;
}

export interface Aggregate extends AggregateValues {
  workItemId: string;
  reason: FlushReason;
  responseCount: number;
  firstAtMs: number;
  writtenAtMs: number;
}

export function emptyAggregation(): AggregationState {
  return { pending: new Map(), written: new Map() };
}

/** Records one response. A second answer from the same source is ignored (redelivery). */
export function add(
  state: AggregationState,
  response: SourceResponse,
  nowMs: number,
): { state: AggregationState; outcome: AddOutcome } {
  if (state.written.has(response.workItemId)) return { state, outcome: 'late' };
  const current = state.pending.get(response.workItemId);
  if (current?.responses.some((r) => r.source === response.source)) {
    return { state, outcome: 'duplicate' };
  }
  const received: ReceivedResponse = { ...response, receivedAtMs: nowMs };
  const item: PendingItem = current
    ? { ...current, responses: [...current.responses, received] }
    : { workItemId: response.workItemId, firstAtMs: nowMs, responses: [received] };
  const pending = new Map(state.pending);
  pending.set(item.workItemId, item);
  return { state: { ...state, pending }, outcome: 'added' };
}

/** When an item becomes due: at the quorum-making response, else at its timeout. */
function deadline(item: PendingItem, config: AggregationConfig): number {
  const timeout = item.firstAtMs + config.timeoutSeconds * 1000;
  const quorum = item.responses[config.minResponses - 1];
  return quorum ? Math.min(quorum.receivedAtMs, timeout) : timeout;
}

/** Items to write now, earliest deadline first. */
export function due(
  state: AggregationState,
  nowMs: number,
  config: AggregationConfig = defaultAggregationConfig,
): DueItem[] {
  const out: Array<DueItem & { atMs: number }> = [];
  for (const item of state.pending.values()) {
    const atMs = deadline(item, config);
    if (atMs > nowMs) continue;
    const reason = item.responses.length >= config.minResponses ? 'quorum' : 'timeout';
    out.push({ workItemId: item.workItemId, reason, atMs });
  }
  out.sort((a, b) => a.atMs - b.atMs || compare(a.workItemId, b.workItemId));
  return out.map(({ workItemId, reason }) => ({ workItemId, reason }));
}

/** The earliest time an item becomes due (schedule the next flush for it); none pending: undefined. */
export function nextDeadline(
  state: AggregationState,
  config: AggregationConfig = defaultAggregationConfig,
): number | undefined {
  let earliest: number | undefined;
  for (const item of state.pending.values()) {
    const atMs = deadline(item, config);
    if (earliest === undefined || atMs < earliest) earliest = atMs;
  }
  return earliest;
}

/**
 * Takes the due items (and, when forced, every pending item or the named ones) out of the
 * state and returns their aggregates to write. Each item leaves `pending` exactly once and is
 * remembered as written; remembered items older than `rememberWrittenSeconds` are forgotten.
 */
export function flush(
  state: AggregationState,
  nowMs: number,
  config: AggregationConfig = defaultAggregationConfig,
  force: boolean | readonly string[] = false,
): { state: AggregationState; aggregates: Aggregate[] } {
  const reasons = new Map<string, FlushReason>();
  for (const item of due(state, nowMs, config)) reasons.set(item.workItemId, item.reason);
  const forced = force === true ? [...state.pending.keys()] : force === false ? [] : force;
  for (const id of forced) {
    if (state.pending.has(id) && !reasons.has(id)) reasons.set(id, 'forced');
  }

  const pending = new Map(state.pending);
  const written = new Map<string, number>();
  const horizon = nowMs - config.rememberWrittenSeconds * 1000;
  for (const [id, atMs] of state.written) if (atMs > horizon) written.set(id, atMs);
  const aggregates: Aggregate[] = [];
  for (const [id, reason] of reasons) {
    const item = pending.get(id)!;
    pending.delete(id);
    written.set(id, nowMs);
    aggregates.push({
      workItemId: id,
      reason,
      responseCount: item.responses.length,
      firstAtMs: item.firstAtMs,
      writtenAtMs: nowMs,
      ...aggregateValues(item.responses, config),
    });
  }
  return { state: { pending, written }, aggregates };
}

/** Combines one item's responses; independent of their order. */
export function aggregateValues(
  responses: readonly SourceResponse[],
  config: Pick<AggregationConfig, 'agreementTolerance'> = defaultAggregationConfig,
): AggregateValues {
  const sorted = [...responses].sort((a, b) => compare(a.source, b.source));
  const valued = sorted.filter(hasValue);
  const values = valued.map((r) => r.value).sort((a, b) => a - b);
  const value = median(values);
  const agreeingResponses =
    value === null
      ? []
      : valued.filter(
          (r) => Math.abs(r.value - value) <= config.agreementTolerance * Math.abs(value),
        );
  const agreeing = new Set(agreeingResponses.map((r) => r.source));
  const confidences = agreeingResponses
    .map((r) => r.confidence)
    .filter((c): c is number => c !== undefined && Number.isFinite(c));
  return {
    value,
    agreement: sorted.length === 0 ? 0 : agreeing.size / sorted.length,
    sources: sorted.map((r) => r.source),
    agreeing: [...agreeing],
    dissenting: valued.filter((r) => !agreeing.has(r.source)).map((r) => r.source),
    failed: sorted.filter((r) => !hasValue(r)).map((r) => r.source),
    min: values[0] ?? null,
    max: values.at(-1) ?? null,
    confidence:
      confidences.length === 0 ? null : confidences.reduce((a, b) => a + b, 0) / confidences.length,
  };
}

function hasValue(r: SourceResponse): r is SourceResponse & { value: number } {
  return r.value !== null && Number.isFinite(r.value);
}

/** Middle value of sorted numbers (mean of the two middle ones for an even count). */
export function median(sorted: readonly number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
