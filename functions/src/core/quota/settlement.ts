import { claimAheadMs } from './claim-ahead';
import type { Claimer } from './claimer';
import type { GateStats } from './gate-ports';
import type { Ledger } from './ledger';
import { type AcquireAmounts, amountOf, type PlannedLimit } from './limits';
import type { OwnedBlock } from './token-source';
import { windowAt } from './windows';

/**
 * What granted calls spent above their estimates, and the debt of it no claim could pay yet
 * (paid by this instance's next grants).
 */
export class Settlement {
  /** Settled cost no claim could pay yet; paid by this instance's next grants. */
  private readonly debt = new Map<string, number>();

  constructor(
    private readonly ledger: (key: string) => Ledger,
    private readonly claimer: Claimer,
    private readonly stats: GateStats,
  ) {}

  /** Pays what is owed on a limit key with the tokens at hand in `ledger`, as far as they go. */
  payOwed(key: string, ledger: Ledger, at: number): void {
    const owed = this.debt.get(key) ?? 0;
    const paid = Math.min(owed, ledger.available(at));
    if (paid > 0) ledger.take(paid, at);
    if (owed - paid > 0) this.debt.set(key, owed - paid);
    else this.debt.delete(key);
  }

  /**
   * Charges what a call spent above its estimate. Lines pay from owned tokens, minted or not,
   * claiming more if needed: claimed tokens are spent by nobody else, so the payment holds even
   * if this instance dies. Windows pay in the window the call was granted in, never the next;
   * once that window has closed, what was not paid is counted as overspent.
   */
  pay(
    granted: PlannedLimit[],
    lines: PlannedLimit[],
    estimated: AcquireAmounts,
    real: AcquireAmounts,
    grantedAtMs: number,
    now: number,
  ): Promise<unknown> {
    return Promise.all(
      granted.map(async (limit) => {
        const extra = amountOf(limit.limit, real) - amountOf(limit.limit, estimated);
        if (extra <= 0) return;
        if (limit.limit.kind === 'window') {
          await this.payWindow(limit, grantedAtMs, extra, now);
        } else {
          await this.payLine(lines.find((l) => l.key === limit.key) ?? limit, extra, now);
        }
      }),
    );
  }

  private async payWindow(limit: PlannedLimit, grantedAtMs: number, extra: number, now: number) {
    const inWindow = (block: OwnedBlock) => (block.validFromMs ?? 0) <= grantedAtMs;
    const ledger = this.ledger(limit.key);
    if (limit.limit.kind !== 'window' || now >= windowAt(limit.limit.unit, grantedAtMs).endMs) {
      this.stats.unpaid += extra;
      return;
    }
    let unpaid = ledger.burn(extra, grantedAtMs, inWindow);
    if (unpaid > 0) {
      await this.claimer.claimUnspent(limit, grantedAtMs, unpaid, 0, inWindow);
      unpaid = ledger.burn(unpaid, grantedAtMs, inWindow);
    }
    // The window's allowance is gone: the upstream saw more than the estimate said.
    this.stats.unpaid += unpaid;
  }

  private async payLine(limit: PlannedLimit, extra: number, now: number) {
    const ledger = this.ledger(limit.key);
    let unpaid = ledger.burn(extra, now);
    if (unpaid > 0) {
      await this.claimer.claimUnspent(
        limit,
        now,
        unpaid,
        claimAheadMs({ ...limit, amount: unpaid }),
      );
      unpaid = ledger.burn(unpaid, now);
    }
    if (unpaid > 0) this.debt.set(limit.key, (this.debt.get(limit.key) ?? 0) + unpaid);
  }
}
