import { randomUUID } from 'node:crypto';
import type { Firestore } from 'firebase-admin/firestore';
import {
  boundedCallerLimit,
  CALLERS_PROVIDER,
  CallerContexts,
  type CallerRateLimit,
  callerCategory,
} from '../../core/quota/callers';
import { Gate } from '../../core/quota/gate';
import { callerDecisions } from '../observability/metrics';
import { instanceSelfQuota } from '../storage/self-quota-store';
import { firestoreClaims } from './claims';

/** What the limiter answers for one call: go ahead, or not before `retryAtMs`. */
export type CallAdmission = { admitted: true } | { admitted: false; retryAtMs: number };

export interface CallLimiterOptions {
  now?: () => number;
  /** Users tracked before the limiter starts afresh (2,000 by default). */
  maxUsers?: number;
  random?: () => number;
  instanceId?: string;
  /** Counts the limiter's claim writes (the instance's self-quota). */
  onWrite?: () => void;
}

/**
 * The per-user call limit of the callables, through Tollgate's own gate: each call asks the
 * gate for one token of the caller's bucket (core/quota/callers.ts) and never waits, so a user
 * over their rate is told when to come back and holds nothing meanwhile.
 */
export class CallLimiter {
  private gate!: Gate;
  private contexts!: CallerContexts;
  /** Users this gate has served: past MAX_USERS it is replaced (see fresh()). */
  private readonly users = new Set<string>();
  /** Per user: the admission under way; a user's calls are admitted one after another. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per user: refused until then (answered from memory, without claiming). */
  private readonly refusedUntil = new Map<string, { untilMs: number; cost: number }>();
  private readonly now: () => number;
  private readonly build: () => Gate;
  private readonly maxUsers: number;

  constructor(
    db: Firestore,
    private readonly limit: CallerRateLimit,
    options: CallLimiterOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.maxUsers = options.maxUsers ?? MAX_USERS;
    const claims = firestoreClaims(db, options.instanceId ?? randomUUID(), options.onWrite);
    this.build = () =>
      new Gate({
        now: this.now,
        // The limiter never waits (maxWaitMs 0), so the gate never sleeps for it.
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        random: options.random ?? Math.random,
        context: async (_provider, category) => this.contexts.context(category),
        claim: claims.claim,
        claimPage: claims.claimPage,
        claimRun: claims.claimRun,
      });
    this.fresh();
  }

  /**
   * A new gate, forgetting every user: the gate keeps a ledger per user, so an instance that
   * served many users would grow without bound. Tokens the old gate held are stranded until
   * they expire, never spent twice: forgetting only ever admits less.
   */
  private fresh(): void {
    this.contexts = new CallerContexts(this.limit);
    this.gate = this.build();
    this.users.clear();
    this.refusedUntil.clear();
  }

  /**
   * Admits one call of `callable` costing `cost` tokens of the user's bucket (callCost; capped
   * at the burst, so any call can pass once the bucket is full).
   */
  admit(uid: string, callable: string, cost = 1): Promise<CallAdmission> {
    const category = callerCategory(uid);
    const tokens = Math.min(
      Math.max(1, Math.ceil(Number.isFinite(cost) ? cost : 1)),
      boundedCallerLimit(this.limit).burst,
    );
    // One at a time per user: concurrent calls would share one claim run sized for one token
    // and be refused while tokens are there to claim.
    const previous = this.queues.get(category) ?? Promise.resolve();
    const next = previous.then(
      () => this.admitNow(category, callable, tokens),
      () => this.admitNow(category, callable, tokens),
    );
    this.queues.set(category, next);
    const forget = () => {
      if (this.queues.get(category) === next) this.queues.delete(category);
    };
    // Both ways: a rejection is the caller's to handle, never an unhandled one of this chain.
    next.then(forget, forget);
    return next;
  }

  private async admitNow(category: string, callable: string, cost: number): Promise<CallAdmission> {
    const now = this.now();
    const refused = this.refusedUntil.get(category);
    // A refusal answers from memory for calls costing as much or more; a cheaper one may pass.
    if (refused !== undefined && refused.untilMs > now && cost >= refused.cost)
      return this.count(callable, { admitted: false, retryAtMs: refused.untilMs });
    if (refused !== undefined && refused.untilMs <= now) this.refusedUntil.delete(category);
    if (!this.users.has(category) && this.users.size >= this.maxUsers) this.fresh();
    this.users.add(category);
    const decision = await this.gate.acquire({
      provider: CALLERS_PROVIDER,
      category,
      cost,
      maxWaitMs: 0,
    });
    if (decision.kind === 'granted') {
      decision.release();
      return this.count(callable, { admitted: true });
    }
    this.refusedUntil.set(category, { untilMs: decision.atMs, cost });
    return this.count(callable, { admitted: false, retryAtMs: decision.atMs });
  }

  private count(callable: string, admission: CallAdmission): CallAdmission {
    callerDecisions.inc({ callable, decision: admission.admitted ? 'admitted' : 'refused' });
    return admission;
  }
}

/** Users one instance's limiter keeps track of before it starts afresh (see fresh()). */
const MAX_USERS = 2_000;

let shared: CallLimiter | undefined;

/** The instance's limiter on the default app, at the deployed limit. */
export function instanceCallLimiter(db: Firestore, limit: CallerRateLimit): CallLimiter {
  if (!shared) {
    // Its claims are counted with every other operation of the instance's Firestore; this
    // connects the instance's self-quota to the buffer that stores its warnings.
    instanceSelfQuota();
    shared = new CallLimiter(db, limit);
  }
  return shared;
}
