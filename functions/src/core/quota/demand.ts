/** Demand is measured over windows of this length. */
const RATE_WINDOW_MS = 1_000;

interface Window {
  /** When the key was first asked for. */
  firstMs: number;
  startMs: number;
  current: number;
  previous: number;
}

/**
 * Tokens an instance asks for, per limit key, per second. Demand, not grants: a starved
 * instance must still see that it needs tokens, or it would talk itself out of claiming them.
 */
export class DemandMeter {
  private readonly windows = new Map<string, Window>();

  record(key: string, amount: number, atMs: number): void {
    this.roll(key, atMs).current += amount;
  }

  /**
   * Tokens per second over the last full window, or the current one if it already asked more.
   * The current window is never extrapolated: a fresh instance's first call is one call a
   * second, not its cost divided by the few milliseconds since it started (which made it take
   * whole pages of a month's window and strand them when it was recycled).
   */
  rate(key: string, atMs: number): number {
    const window = this.roll(key, atMs);
    return Math.max(window.previous, window.current) * (1000 / RATE_WINDOW_MS);
  }

  /** Whether a whole window of asks has been seen for the key (else the rate is a guess). */
  measured(key: string, atMs: number): boolean {
    const window = this.windows.get(key);
    return window !== undefined && atMs - window.firstMs >= RATE_WINDOW_MS;
  }

  private roll(key: string, atMs: number): Window {
    let window = this.windows.get(key);
    if (!window) {
      window = { firstMs: atMs, startMs: atMs, current: 0, previous: 0 };
      this.windows.set(key, window);
    }
    if (atMs - window.startMs >= RATE_WINDOW_MS) {
      window.previous = atMs - window.startMs >= 2 * RATE_WINDOW_MS ? 0 : window.current;
      window.current = 0;
      window.startMs += RATE_WINDOW_MS * Math.floor((atMs - window.startMs) / RATE_WINDOW_MS);
    }
    return window;
  }
}
