import { type Refusal, refusal } from './proxy-refusals.ts';
import { type ProxyUser, type ProxyUserUsage, TRAFFIC_LIMIT_MESSAGE } from './proxy-types.ts';

/** A user's account: its usage, its requests-per-second window and its monthly traffic. */

function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

export class UserAccount {
  readonly usage: ProxyUserUsage = {
    requests: 0,
    tunnels: 0,
    rejected: 0,
    bytes: 0,
    monthBytes: 0,
  };
  #second = Number.NEGATIVE_INFINITY;
  #inSecond = 0;
  #month = '';

  constructor(
    readonly user: ProxyUser,
    private readonly now: () => number,
  ) {}

  /** Rolls the month over; the usage of a past month no longer counts. */
  private roll(): void {
    const month = monthOf(this.now());
    if (month !== this.#month) {
      this.#month = month;
      this.usage.monthBytes = 0;
    }
  }

  /** Admits one request or says why not; an admitted request counts against the rate. */
  admit(): Refusal | undefined {
    this.roll();
    const limit = this.user.monthlyTrafficBytes;
    if (limit !== undefined && this.usage.monthBytes >= limit) {
      return refusal(403, `${TRAFFIC_LIMIT_MESSAGE}: ${limit} bytes per month.\n`);
    }
    const t = this.now();
    const second = Math.floor(t / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#inSecond = 0;
    }
    const rps = this.user.requestsPerSecond;
    if (rps !== undefined && this.#inSecond >= rps) {
      const wait = Math.max(1, Math.ceil(((second + 1) * 1000 - t) / 1000));
      return refusal(429, `Rate limit of ${rps} requests per second exceeded.\n`, {
        'retry-after': String(wait),
      });
    }
    this.#inSecond++;
    this.usage.requests++;
    return undefined;
  }

  count(bytes: number): void {
    this.roll();
    this.usage.bytes += bytes;
    this.usage.monthBytes += bytes;
  }
}
