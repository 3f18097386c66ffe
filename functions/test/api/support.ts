import { randomUUID } from 'node:crypto';
import type { Firestore } from 'firebase-admin/firestore';
import { Timestamp } from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import type { CallableRequest } from 'firebase-functions/v2/https';
import { HttpsError } from 'firebase-functions/v2/https';
import { expect } from 'vitest';
import type { BackupStorage } from '../../src/adapters/backup/backup-storage';
import type { OperationDeps, UserDirectory } from '../../src/adapters/operations';
import { AggregationStore } from '../../src/adapters/pipeline/aggregation-store';
import { ProductsRepository } from '../../src/adapters/pipeline/products-repository';
import type { QueueAdmin, QueueStatus } from '../../src/adapters/queues/queue-admin';
import { PROVIDER_QUEUES } from '../../src/adapters/queues/queue-rates';
import type { EnqueueOptions, EnqueueResult } from '../../src/adapters/queues/task-queue';
import { CallLimiter } from '../../src/adapters/quota/call-limiter';
import { warningDocument } from '../../src/adapters/storage/self-quota-store';
import {
  AUDIT_LOG_COLLECTION,
  type CallableInput,
  type ImplementedCallable,
  type Role,
} from '../../src/core/operations';
import { startCollection } from '../../src/core/pipeline/collections';
import type { WorkItem } from '../../src/core/pipeline/work-items';
import {
  CALLER_LIMIT_BOUNDS,
  CALLERS_PROVIDER,
  type CallerRateLimit,
} from '../../src/core/quota/callers';
import { usageStatsUpdate } from '../../src/core/storage/write-buffer/usage-stats';
import { type Callables, createCallables } from '../../src/entry/operations/define';
import { testFirestore } from '../support/firestore';

/** The tests' clock: a fixed time, moved only by the test. */
export const T0 = Date.UTC(2026, 0, 10, 6, 30, 0);

export interface FakeUser {
  uid: string;
  email?: string;
  customClaims?: Record<string, unknown>;
}

/** Firebase Auth as far as role management needs it, in memory. */
export class FakeUsers implements UserDirectory {
  readonly users = new Map<string, FakeUser>();
  /** Set to make the next setCustomUserClaims fail. */
  failNextSet: Error | undefined;

  constructor(users: FakeUser[] = []) {
    for (const user of users) this.users.set(user.uid, structuredClone(user));
  }

  async getUser(uid: string) {
    // An account the test never named is as its last issued token says (see request()).
    const user = this.users.get(uid) ?? issuedAccounts.get(uid);
    if (!user) {
      throw Object.assign(new Error('There is no user record'), { code: 'auth/user-not-found' });
    }
    return structuredClone(user);
  }

  async setCustomUserClaims(uid: string, claims: object | null) {
    if (this.failNextSet) {
      const error = this.failNextSet;
      this.failNextSet = undefined;
      throw error;
    }
    const user = this.users.get(uid);
    if (!user) {
      throw Object.assign(new Error('There is no user record'), { code: 'auth/user-not-found' });
    }
    user.customClaims = structuredClone((claims ?? {}) as Record<string, unknown>);
  }

  /** Uids whose refresh tokens were revoked, in order. */
  readonly revoked: string[] = [];

  async revokeRefreshTokens(uid: string) {
    if (!this.users.has(uid)) {
      throw Object.assign(new Error('There is no user record'), { code: 'auth/user-not-found' });
    }
    this.revoked.push(uid);
  }

  snapshot(): string {
    return JSON.stringify([...this.users.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** Cloud Tasks' queue administration, in memory: each queue's state, rates and waiting tasks. */
export class FakeQueueAdmin implements QueueAdmin {
  readonly queues = new Map<string, QueueStatus>();
  readonly calls: string[] = [];
  /** Queues whose next call fails (as an unreachable API would). */
  readonly failing = new Set<string>();

  constructor(names: readonly string[] = PROVIDER_QUEUES.map((q) => q.queue)) {
    for (const queue of names) {
      this.queues.set(queue, {
        queue,
        state: 'RUNNING',
        tasks: 0,
        oldestTaskAgeSeconds: null,
        dispatchedLastMinute: 0,
        dispatchesInFlight: 0,
        maxDispatchesPerSecond: 10,
        maxConcurrentDispatches: 10,
      });
    }
  }

  private found(queue: string, call: string): QueueStatus {
    this.calls.push(`${call} ${queue}`);
    if (this.failing.has(queue)) throw new Error(`14 UNAVAILABLE: ${queue}`);
    const status = this.queues.get(queue);
    if (!status) throw new Error(`5 NOT_FOUND: Queue does not exist: ${queue}`);
    return status;
  }

  async status(queue: string) {
    return { ...this.found(queue, 'status') };
  }
  async setRate(
    queue: string,
    rate: Pick<QueueStatus, 'maxDispatchesPerSecond' | 'maxConcurrentDispatches'>,
  ) {
    Object.assign(this.found(queue, 'setRate'), rate);
  }
  async pause(queue: string) {
    this.found(queue, 'pause').state = 'PAUSED';
  }
  async resume(queue: string) {
    this.found(queue, 'resume').state = 'RUNNING';
  }
  async purge(queue: string) {
    const status = this.found(queue, 'purge');
    const dropped = status.tasks;
    status.tasks = 0;
    return dropped;
  }
}

export interface ApiFixture {
  db: Firestore;
  close: () => Promise<void>;
  clock: { now: number };
  users: FakeUsers;
  enqueued: Array<{ queue: string; item: WorkItem; options: EnqueueOptions }>;
  deps: OperationDeps;
  callables: Callables;
  queues: FakeQueueAdmin;
}

/**
 * The fixture's per-user call limit: the highest the parameters allow, so tests that call a
 * lot from one user on a stopped clock are not refused (call-limit.test.ts tests the limit).
 */
export const FIXTURE_CALL_LIMIT: CallerRateLimit = {
  perMinute: CALLER_LIMIT_BOUNDS.perMinute.max,
  burst: CALLER_LIMIT_BOUNDS.burst.max,
};

export async function apiFixture(
  options: { seed?: boolean; callLimit?: CallerRateLimit } = {},
): Promise<ApiFixture> {
  const { db, app, close } = testFirestore();
  // Exports go to a bucket of this fixture's own on the Storage emulator.
  const backups: BackupStorage = {
    bucket: getStorage(app).bucket(`backups-${randomUUID().slice(0, 8)}`),
    prefix: 'backups/',
    spoolPrefix: 'tmp/',
  };
  const clock = { now: T0 };
  const users = new FakeUsers([
    { uid: 'admin-1', email: 'admin@example.com', customClaims: { role: 'admin' } },
    { uid: 'user-2', email: 'user2@example.com', customClaims: { viewer: true, team: 'ops' } },
  ]);
  const enqueued: ApiFixture['enqueued'] = [];
  const seen = new Set<string>();
  const queues = new FakeQueueAdmin();
  const deps: OperationDeps = {
    db,
    now: () => clock.now,
    users,
    enqueue: async (queue, item, opts): Promise<EnqueueResult> => {
      enqueued.push({ queue, item, options: opts });
      const id = `${queue}/${opts.id}`;
      if (seen.has(id)) return 'duplicate';
      seen.add(id);
      return 'enqueued';
    },
    aggregationStats: { update: async () => {} },
    scheduleFlush: async () => {},
    projectId: () => 'demo-test',
    version: () => '0.0.0-test',
    queues: {
      admin: queues,
      deployed: () => ({ maxDispatchesPerSecond: 10, maxConcurrentDispatches: 10 }),
    },
    backups: () => backups,
    callLimit: new CallLimiter(db, options.callLimit ?? FIXTURE_CALL_LIMIT, {
      now: () => clock.now,
    }),
  };
  if (options.seed ?? true) await seed(db);
  return { db, close, clock, users, enqueued, deps, callables: createCallables(deps), queues };
}

/** The text of the backup file an export wrote (exportBackup answers where it is). */
export async function downloadBackup(
  fixture: ApiFixture,
  exported: { bucket: string; path: string },
): Promise<string> {
  const storage = fixture.deps.backups!();
  expect(exported.bucket).toBe(storage.bucket.name);
  const [bytes] = await storage.bucket.file(exported.path).download();
  return bytes.toString('utf8');
}

export const SEED_COLLECTION = 'deals-2026';

/** Two providers with three categories, a running collection, a cooldown, usage, warnings,
 * a pending aggregation and products to validate. */
export async function seed(db: Firestore): Promise<void> {
  const batch = db.batch();
  batch.set(db.doc('providers/keepa'), {
    displayName: 'Keepa',
    limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
    cooldownSeconds: 600,
  });
  batch.set(db.doc('providers/spapi'), {
    // 40% of a burst of 10 carries the auto-sync's getReport (a burst of 5 would not, and a
    // configuration whose shares cannot carry their work does not load: adapters/pipeline/work-shares.ts).
    limits: [{ kind: 'operation', operation: 'getReport', ratePerSecond: 1, burst: 10 }],
  });
  batch.set(db.doc('categories/deals'), { provider: 'keepa', sharePercent: 40, priority: 1 });
  batch.set(db.doc('categories/historical'), { provider: 'keepa', sharePercent: 30 });
  batch.set(db.doc('categories/reports'), { provider: 'spapi', sharePercent: 50 });
  batch.set(db.doc('categories/spapi-realtime-sales'), { provider: 'spapi', sharePercent: 40 });
  batch.set(db.doc('config/flags'), { maintenance: false });
  const { collection } = startCollection(
    undefined,
    { id: SEED_COLLECTION, provider: 'keepa', category: 'deals', targets: { takealot: 100 } },
    T0 - 3_600_000,
  );
  batch.set(db.doc(`collections/${SEED_COLLECTION}`), collection);
  batch.set(db.doc('cooldowns/keepa'), {
    provider: 'keepa',
    until: Timestamp.fromMillis(T0 + 600_000),
    startedAt: Timestamp.fromMillis(T0 - 60_000),
    lastOperation: 'product',
    hits: 3,
    retryAfterSeconds: 660,
    message: 'quota exceeded',
  });
  for (const [offset, granted] of [
    [0, 10],
    [60_000, 5],
    [7_200_000, 100],
  ] as const) {
    const { path } = usageStatsUpdate({ provider: 'keepa', category: 'deals', at: T0 - offset });
    const minute = Math.floor((T0 - offset) / 60_000) * 60_000;
    batch.set(db.doc(path), {
      provider: 'keepa',
      category: 'deals',
      minute: new Date(minute),
      expiresAt: new Date(minute + 86_400_000),
      granted,
      deferred: 1,
      calls: granted,
      quota429: 0,
    });
  }
  const warning = warningDocument({
    atMs: T0 - 30_000,
    op: 'write',
    window: 'second',
    usage: 95,
    limit: 100,
    percent: 95,
  });
  batch.set(db.doc(warning.path), warning.data);
  await batch.commit();

  const store = new AggregationStore(db, {
    scheduleFlush: async () => {},
    stats: { update: async () => {} },
    now: () => T0 - 10_000,
  });
  await store.submitResponse({ workItemId: 'item-1', source: 'miner-a', value: 100 });
  await store.submitResponse({ workItemId: 'item-1', source: 'miner-b', value: 102 });

  const products = new ProductsRepository(db, { now: () => T0 - 60_000 });
  const prices = Array.from({ length: 10 }, (_, i) => ({
    date: `2026-01-${String(i + 1).padStart(2, '0')}`,
    price: 100 + i,
    confidence: 0.95,
  }));
  await products.upsertPriceHistory({
    marketplace: 'takealot',
    key: 'good',
    collection: SEED_COLLECTION,
    identifiers: { plid: 'PLID-good' },
    prices,
    confidence: 0.9,
    expectedRange: { from: '2026-01-01', to: '2026-01-10' },
  });
  await products.upsertPriceHistory({
    marketplace: 'takealot',
    key: 'unsure',
    collection: SEED_COLLECTION,
    identifiers: { plid: 'PLID-unsure' },
    prices,
    confidence: 0.5,
    expectedRange: { from: '2026-01-01', to: '2026-01-10' },
  });
}

/** A callable request as the Functions runtime hands it over, with the given role claims. */
/**
 * Accounts behind the tokens tests issue: FakeUsers answers for them unless the test set the
 * account up itself, so Auth agrees with a token unless a test says otherwise (a demotion).
 */
const issuedAccounts = new Map<string, FakeUser>();
/** Each test token is a new one (its issue time), as a new sign-in would be. */
let issued = 0;

export function request(
  data: unknown,
  claims: Record<string, unknown> | null = { role: 'admin' },
  uid = 'caller-1',
): CallableRequest<unknown> {
  if (claims) issuedAccounts.set(uid, { uid, email: `${uid}@example.com`, customClaims: claims });
  return {
    data,
    auth: claims
      ? {
          uid,
          token: { uid, email: `${uid}@example.com`, iat: ++issued, ...claims } as never,
          rawToken: 'test-token',
        }
      : undefined,
    rawRequest: {} as never,
    acceptsStreaming: false,
  };
}

export function as(role: Role | null, data: unknown, uid?: string): CallableRequest<unknown> {
  return request(data, role ? { role } : null, uid);
}

/** Calls a callable; resolves with its result or the HttpsError it threw. */
export async function call<N extends ImplementedCallable>(
  fixture: ApiFixture,
  name: N,
  data: CallableInput<N> | unknown,
  role: Role | null = 'admin',
): Promise<{ ok: true; result: unknown } | { ok: false; error: HttpsError }> {
  try {
    const result = await fixture.callables[name].run(as(role, data));
    return { ok: true, result };
  } catch (error) {
    if (error instanceof HttpsError) return { ok: false, error };
    throw error;
  }
}

/**
 * The per-user call limit's claims (an admitted call may write one before its operation runs):
 * the call's admission, not its effect, so snapshots of what a call changed leave them out
 * (call-limit.test.ts checks them).
 */
export function isCallLimitClaim(path: string): boolean {
  return path.startsWith(`quotaBlocks/${CALLERS_PROVIDER}~`);
}

/** Every document, recursively: path -> update time and data. Exact, for a few dozen documents. */
export async function fullSnapshot(db: Firestore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (collections: FirebaseFirestore.CollectionReference[]) => {
    for (const collection of collections) {
      const docs = await collection.listDocuments();
      const snaps = docs.length > 0 ? await db.getAll(...docs) : [];
      for (const snap of snaps) {
        if (snap.exists && !isCallLimitClaim(snap.ref.path)) out.set(snap.ref.path, describe(snap));
      }
      for (const doc of docs) await walk(await doc.listCollections());
    }
  };
  await walk(await db.listCollections());
  return out;
}

/** Subcollections the operations write under (aggregation responses, validation findings). */
export const SUBCOLLECTIONS = ['responses', 'findings'] as const;

/**
 * Every document of every top-level collection and of the named subcollections, in one query
 * per collection id (collection groups reach every depth): a fraction of fullSnapshot's round
 * trips. `snapshot.test.ts` checks it sees what fullSnapshot sees.
 */
export async function quickSnapshot(
  db: Firestore,
  subcollections: readonly string[] = SUBCOLLECTIONS,
): Promise<Map<string, string>> {
  const ids = new Set([...(await db.listCollections()).map((c) => c.id), ...subcollections]);
  const results = await Promise.all([...ids].map((id) => db.collectionGroup(id).get()));
  const out = new Map<string, string>();
  for (const result of results) {
    for (const doc of result.docs) {
      if (!isCallLimitClaim(doc.ref.path)) out.set(doc.ref.path, describe(doc));
    }
  }
  return out;
}

function describe(snap: FirebaseFirestore.DocumentSnapshot): string {
  const t = snap.updateTime;
  return `${t?.seconds}.${t?.nanoseconds}|${JSON.stringify(snap.data())}`;
}

/** Paths added, removed or changed between two snapshots. */
export function changedPaths(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [path, value] of after) if (before.get(path) !== value) changed.push(path);
  for (const path of before.keys()) if (!after.has(path)) changed.push(path);
  return changed.sort();
}

export async function auditEntries(db: Firestore) {
  const snapshot = await db.collection(AUDIT_LOG_COLLECTION).orderBy('atMs').get();
  return snapshot.docs.map((doc) => ({ id: doc.id, ...doc.data() }) as AuditEntryDoc);
}

export interface AuditEntryDoc {
  id: string;
  who: { uid: string; email: string | null; role: Role };
  what: string;
  target: string;
  before: unknown;
  after: unknown;
  at: Timestamp;
  atMs: number;
  related: Array<{ path: string; before: unknown; after: unknown }>;
  reason?: string;
}

/** What the client sent to Firestore as writes: one entry per non-empty commit. */
export interface WriteLog {
  commits: string[][];
  /** Every document path written since the last reset. */
  paths(): string[];
  reset(): void;
  stop(): void;
}

/**
 * Records every commit (and batchWrite) this Firestore client sends, with the documents it
 * writes, by wrapping the client's one unary request method (an internal of
 * @google-cloud/firestore; `selfTest` proves the hook still sees writes). A call during which
 * the client sent no write wrote nothing: no other client writes to a test's namespace.
 */
export function recordWrites(db: Firestore): WriteLog {
  const client = db as unknown as {
    request: (method: string, request: unknown, ...rest: unknown[]) => Promise<unknown>;
  };
  const original = client.request;
  const commits: string[][] = [];
  client.request = function (this: unknown, method, req, ...rest) {
    if (method === 'commit' || method === 'batchWrite') {
      const writes = ((req as { writes?: unknown[] }).writes ?? []) as Array<{
        update?: { name: string };
        delete?: string;
        transform?: { document: string };
      }>;
      if (writes.length > 0) {
        commits.push(
          writes.map((w) =>
            relativePath(w.update?.name ?? w.delete ?? w.transform?.document ?? ''),
          ),
        );
      }
    }
    return original.call(db, method, req, ...rest);
  };
  return {
    commits,
    paths: () => commits.flat(),
    reset: () => {
      commits.length = 0;
    },
    stop: () => {
      client.request = original;
    },
  };
}

function relativePath(name: string): string {
  const at = name.indexOf('/documents/');
  return at === -1 ? name : name.slice(at + '/documents/'.length);
}

/** Fails unless the write log sees a write made through `db`. */
export async function selfTest(db: Firestore, log: WriteLog): Promise<void> {
  log.reset();
  const ref = db.collection('writeLogSelfTest').doc();
  await ref.set({ at: 1 });
  await ref.delete();
  const seen = log.paths();
  log.reset();
  if (seen.filter((p) => p === ref.path).length !== 2) {
    throw new Error(`the write log missed writes: saw ${JSON.stringify(seen)}`);
  }
}
