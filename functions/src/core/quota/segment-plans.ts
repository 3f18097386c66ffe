import { kindOfCall } from './call-amounts';
import type { AcquireRequest } from './decision';
import type { Allocation } from './epochs';
import type { GateContext } from './gate-ports';
import {
  type AcquireAmounts,
  type PlannedLimit,
  planHolds,
  planSegment,
  type SegmentPlan,
  withAmounts,
} from './limits';
import { type TokenLine, validSpan } from './token-line';
import type { TokenSource } from './token-source';

/**
 * The limits a call is planned against, per allocation and kind of call, bound to one token
 * line per limit and segment in this instance.
 */
export class SegmentPlans {
  /** Token lines by limit key and origin (see sharedLine). */
  private readonly lines = new Map<
    string,
    { key: string; line: TokenLine; source: TokenSource; segmentStartMs: number }
  >();
  /** Segment plans by allocation (a new object at every refresh) and kind of call. */
  private readonly segmentPlans = new WeakMap<Allocation, Map<string, SegmentPlan>>();

  /** A call's limits in force at `atMs`, with its amounts (limits it spends nothing of left out). */
  planned(
    context: GateContext,
    request: AcquireRequest,
    amounts: AcquireAmounts,
    atMs: number,
  ): PlannedLimit[] {
    const plan = this.segmentPlan(context.allocation, request, atMs);
    return plan ? withAmounts(plan.limits, amounts).filter((limit) => limit.amount > 0) : [];
  }

  /**
   * The category's limits for the segment in force, planned once per allocation and segment
   * (building token sources on every call was most of a grant's cost) and bound to this
   * instance's shared lines.
   */
  private segmentPlan(
    allocation: Allocation,
    request: AcquireRequest,
    atMs: number,
  ): SegmentPlan | undefined {
    let plans = this.segmentPlans.get(allocation);
    if (!plans) {
      plans = new Map();
      this.segmentPlans.set(allocation, plans);
    }
    const id = kindOfCall(request);
    const cached = plans.get(id);
    if (cached && planHolds(cached, atMs)) return cached;
    const plan = planSegment(
      allocation,
      request.provider,
      request.category,
      request.operation,
      atMs,
    );
    if (!plan) return undefined;
    const bound = { ...plan, limits: plan.limits.map((limit) => this.sharedLine(limit, atMs)) };
    plans.set(id, bound);
    return bound;
  }

  /**
   * One line object per limit and segment in this instance, shared by every block claimed from
   * it. Blocks outlive the view they were claimed under: a block claimed ahead, before a change
   * was published, must stop minting where the change starts. So when a newer segment is
   * planned, every older line of the limit is ended no later than the newer segment's start.
   */
  private sharedLine(limit: PlannedLimit, atMs: number): PlannedLimit {
    if (!limit.line) return limit;
    const { line, segmentStartMs } = limit.line;
    const id = `${limit.key}|${line.originMs ?? 0}`;
    let entry = this.lines.get(id);
    if (!entry) {
      entry = { key: limit.key, line, source: limit.source, segmentStartMs };
      this.lines.set(id, entry);
    } else if (line.endMs !== undefined && !(entry.line.endMs! <= line.endMs)) {
      entry.line.endMs = line.endMs;
    }
    for (const [otherId, other] of this.lines) {
      if (other.key !== limit.key || other === entry) continue;
      if (other.segmentStartMs < segmentStartMs && !(other.line.endMs! <= segmentStartMs)) {
        other.line.endMs = segmentStartMs;
      }
      // Forget lines whose last token has expired.
      if (other.line.endMs !== undefined && atMs > other.line.endMs + lineValidityMs(other.line)) {
        this.lines.delete(otherId);
      }
    }
    return { ...limit, source: entry.source };
  }
}

/** How long a line's tokens stay valid after they are minted. */
function lineValidityMs(line: TokenLine): number {
  return line.ratePerSecond > 0 ? (validSpan(line) * 1000) / line.ratePerSecond : 0;
}
