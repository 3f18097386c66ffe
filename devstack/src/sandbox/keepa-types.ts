/** The Keepa sandbox's misbehaviours, options, state and handle. */

export type KeepaMisbehaviour =
  | 'none'
  | '429'
  | '5xx'
  | 'slow'
  | 'malformed'
  | 'huge'
  | 'gzip-bomb'
  | 'far-retry-after';

export interface KeepaSandboxOptions {
  port?: number;
  capacity?: number;
  /** Tokens added at each minute boundary (Keepa plans refill per minute). */
  refillPerMinute?: number;
  /** Injected clock (ms). */
  now?: () => number;
  /** Varies the generated products. */
  seed?: string | number;
  /** Accepted API keys; `['sandbox-key']` by default. */
  keys?: string[];
  /** Delay used by the 'slow' mode (3000 ms by default). */
  slowMs?: number;
  /** Injected sleep for the 'slow' mode (a real timer by default). */
  sleep?: (ms: number) => Promise<void>;
  /** Deals each domain's /deal list holds (400 by default: pages of 150, 150 and 100). */
  deals?: number;
  /** What the 'huge' and 'gzip-bomb' answers amount to (256 MiB by default). */
  hugeBytes?: number;
  /** The Retry-After of 'far-retry-after', as sent ('9999999999' by default). */
  farRetryAfter?: string;
}

export interface KeepaSandboxState {
  capacity: number;
  refillRate: number;
  tokensLeft: number;
  refillIn: number;
  mode: KeepaMisbehaviour;
  /** Requests answered 200 by /product. */
  served: number;
  /** Requests answered 200 by /deal. */
  dealsServed: number;
  /** Requests answered 429. */
  rejected: number;
  /** Tokens charged since start. */
  tokensConsumed: number;
  /** The last 1,000 served /product requests: ASINs asked for, and whether with offers. */
  productRequests: Array<{ asins: number; offers: boolean }>;
  /** The last 1,000 served deal queries, as sent. */
  dealQueries: Array<Record<string, unknown>>;
}

export interface KeepaSandbox {
  url: string;
  port: number;
  stop(): Promise<void>;
  state(): KeepaSandboxState;
  misbehave(mode: KeepaMisbehaviour): void;
}
