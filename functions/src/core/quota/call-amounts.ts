import type { AcquireRequest } from './decision';
import type { AcquireAmounts, PlannedLimit } from './limits';

/** Weight of each settled size in the learned estimate of a kind of call's bytes. */
const ESTIMATE_WEIGHT = 0.2;

/** What a call will spend: as the caller gave it, or with bytes learned from earlier calls. */
export class CallAmounts {
  /** Learned bytes per kind of call (provider, category, operation), from settled sizes. */
  private readonly estimates = new Map<string, number>();

  /**
   * What a call will spend. Bytes not given are estimated from what this kind of call settled
   * before, and never less than 1: a window measuring bytes is always checked before a call.
   */
  of(request: AcquireRequest): AcquireAmounts {
    const learned = this.estimates.get(kindOfCall(request));
    return {
      operation: request.operation,
      cost: request.cost ?? 1,
      bytes: Math.max(1, Math.ceil(request.bytes ?? learned ?? 1)),
      requests: request.requests ?? 1,
    };
  }

  /** Learns a kind of call's bytes from what one of its calls settled. */
  learn(request: AcquireRequest, bytes: number | undefined): void {
    if (bytes !== undefined && Number.isFinite(bytes) && bytes >= 0) {
      const key = kindOfCall(request);
      const before = this.estimates.get(key);
      this.estimates.set(
        key,
        before === undefined ? bytes : before + ESTIMATE_WEIGHT * (bytes - before),
      );
    }
  }
}

/** Whether a limit's amount is bytes the caller did not give (a learned estimate). */
export function guessedBytes(limit: PlannedLimit, request: AcquireRequest): boolean {
  return (
    request.bytes === undefined && limit.limit.kind === 'window' && limit.limit.measure === 'bytes'
  );
}

/** A kind of call: its provider, category and operation. */
export function kindOfCall(request: AcquireRequest): string {
  return `${request.provider}~${request.category}~${request.operation ?? ''}`;
}
