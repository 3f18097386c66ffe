/**
 * "At most once per period", for housekeeping such as dropping expired entries. A clock that
 * stepped back is due at once, rather than after the time it lost.
 */
export class Every {
  private nextMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly periodMs: number) {}

  /** Whether the work is due at `nowMs`; when it is, the next time is a period on. */
  due(nowMs: number): boolean {
    if (nowMs < this.nextMs && nowMs >= this.nextMs - this.periodMs) return false;
    this.nextMs = nowMs + this.periodMs;
    return true;
  }
}
