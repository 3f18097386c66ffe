/** The proxy sandbox's misbehaviours, users, options, state and handle, and its default user. */

export type ProxyMisbehaviour = 'none' | '429' | '5xx' | 'slow' | 'block' | 'far-retry-after';

export interface ProxyUser {
  username: string;
  password: string;
  /** Requests (forwarded requests and tunnels) per second; unlimited when absent. */
  requestsPerSecond?: number;
  /** Traffic allowance per calendar month (UTC), in bytes; unlimited when absent. */
  monthlyTrafficBytes?: number;
}

export interface ProxySandboxOptions {
  port?: number;
  /** One sandbox user (`PROXY_SANDBOX_USER`/`PROXY_SANDBOX_PASSWORD`, 10 rps) by default. */
  users?: ProxyUser[];
  realm?: string;
  /** Injected clock (ms) for the rate window and the traffic month. */
  now?: () => number;
  /** Retry-After of the '429' misbehaviour (30 s by default). */
  retryAfterSeconds?: number;
  /** The Retry-After of 'far-retry-after', as sent ('9999999999' by default). */
  farRetryAfter?: string;
  /** Delay used by the 'slow' mode (3000 ms by default). */
  slowMs?: number;
  /** Injected sleep for the 'slow' mode (a real timer by default). */
  sleep?: (ms: number) => Promise<void>;
}

export interface ProxyUserUsage {
  /** Requests forwarded and tunnels opened. */
  requests: number;
  tunnels: number;
  /** Requests of this user refused (rate, traffic, target, misbehaviour). */
  rejected: number;
  /** Bytes relayed since start. */
  bytes: number;
  /** Bytes relayed in the current month, what the traffic allowance is checked against. */
  monthBytes: number;
}

export interface ProxySandboxState {
  mode: ProxyMisbehaviour;
  /** Every request and CONNECT the proxy received. */
  received: number;
  /** Answered 407. */
  authFailures: number;
  /** Answered 429 because a user went over its rate. */
  rateLimited: number;
  /** Answered 403 because a user's monthly traffic is used up. */
  trafficExhausted: number;
  /** Answered 403 because the target is not a loopback address. */
  refusedTargets: number;
  /** Answered 502 because the target could not be reached. */
  badGateway: number;
  users: Record<string, ProxyUserUsage>;
}

export interface ProxySandbox {
  /** The proxy's URL, without credentials. */
  url: string;
  port: number;
  /** `http://user:password@host:port` for a configured user. */
  urlFor(username: string): string;
  stop(): Promise<void>;
  state(): ProxySandboxState;
  misbehave(mode: ProxyMisbehaviour): void;
}

export const PROXY_SANDBOX_USER = 'sandbox-user';
export const PROXY_SANDBOX_PASSWORD = 'sandbox-pass';
export const TRAFFIC_LIMIT_MESSAGE = 'Traffic limit reached for this billing period';
