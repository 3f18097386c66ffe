import { MINUTE } from './keepa-rules.ts';

/** Keepa's bucket: discrete refill at minute boundaries since start; balance may go negative. */
export class KeepaBucket {
  balance: number;
  #minute = 0;
  constructor(
    readonly capacity: number,
    readonly refill: number,
    private readonly now: () => number,
    private readonly startedAt: number,
  ) {
    this.balance = capacity;
  }
  advance(): void {
    const m = Math.floor((this.now() - this.startedAt) / MINUTE);
    if (m > this.#minute) {
      this.balance = Math.min(this.capacity, this.balance + (m - this.#minute) * this.refill);
      this.#minute = m;
    }
  }
  /** ms until the next refill. */
  refillIn(): number {
    return this.startedAt + (this.#minute + 1) * MINUTE - this.now();
  }
}
