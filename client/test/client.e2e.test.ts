import { randomUUID } from 'node:crypto';
import { deleteApp, type FirebaseApp, FirebaseError, initializeApp } from 'firebase/app';
import { connectAuthEmulator, getAuth, signInWithEmailAndPassword, signOut } from 'firebase/auth';
import { connectFunctionsEmulator, getFunctions } from 'firebase/functions';
import {
  type App,
  deleteApp as deleteAdminApp,
  initializeApp as initAdmin,
} from 'firebase-admin/app';
import { type Firestore, getFirestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signInWithRole } from '../../devstack/src/auth.ts';
import {
  callLimitWaitMs,
  createTollgateClient,
  type TollgateClient,
  TollgateInputError,
} from '../src/index.ts';

/**
 * The typed client through the Firebase JS SDK against the functions of the local stack: Auth
 * emulator users with role claims, signed in with email and password as an app would.
 */

const stack = inject('stack');
const PASSWORD = 'tollgate-local'; // devstack/src/auth.ts signs users up with it
const run = randomUUID().slice(0, 8);
const provider = `client-e2e-${run}`;
const category = `client-e2e-${run}`;
const collection = `client-e2e-${run}`;

let admin: App;
let db: Firestore;
let app: FirebaseApp;
let tollgate: TollgateClient;

async function signInAs(role: 'viewer' | 'operator', name = `client-${role}`): Promise<void> {
  const email = `${name}-${run}@tollgate.local`;
  // Creates the user with its role claim; the SDK then signs in as an app's user would.
  await signInWithRole(stack.urls.auth!, stack.projectId, email, role);
  const auth = getAuth(app);
  await signOut(auth);
  const credential = await signInWithEmailAndPassword(auth, email, PASSWORD);
  const token = await credential.user.getIdTokenResult();
  expect(token.claims.role).toBe(role);
}

beforeAll(async () => {
  Object.assign(process.env, stack.env);
  admin = initAdmin({ projectId: stack.projectId }, `client-e2e-${run}`);
  db = getFirestore(admin);
  // A provider and category of this test's own, so its collection changes no one else's shares.
  await db.doc(`providers/${provider}`).set({
    displayName: 'Client e2e',
    limits: [{ kind: 'tokenBucket', capacity: 10, refillPerSecond: 1 }],
  });
  await db.doc(`categories/${category}`).set({ provider, sharePercent: 10 });

  app = initializeApp({ projectId: stack.projectId, apiKey: 'fake-api-key' }, `client-${run}`);
  connectAuthEmulator(getAuth(app), stack.urls.auth!, { disableWarnings: true });
  const functions = getFunctions(app, stack.region);
  const url = new URL(stack.urls.functions!);
  connectFunctionsEmulator(functions, url.hostname, Number(url.port));
  tollgate = createTollgateClient(functions);
});

afterAll(async () => {
  await deleteApp(app);
  for (const path of [
    `collections/${collection}`,
    `categories/${category}`,
    `providers/${provider}`,
    `quotaAllocations/${provider}`,
  ]) {
    await db.doc(path).delete();
  }
  await deleteAdminApp(admin);
});

describe('the typed client against the functions emulator', () => {
  it('reads status and a collection as a viewer', async () => {
    await signInAs('viewer');
    const status = await tollgate.getStatus();
    expect(status.projectId).toBe(stack.projectId);
    expect(status.providers.map((p) => p.id)).toEqual(expect.arrayContaining(['keepa', provider]));
    expect(status.categories.find((c) => c.id === category)?.sharePercent).toBe(10);

    const seeded = await tollgate.getCollectionStatus({ id: 'buckcheap-historical' });
    expect(seeded).toMatchObject({ id: 'buckcheap-historical', provider: 'smartproxy' });
    expect(seeded.marketplaces.map((m) => m.marketplace).sort()).toEqual(['makro', 'takealot']);
  });

  it('gets permission-denied from the function for a change as a viewer', async () => {
    await signInAs('viewer');
    const error = await tollgate
      .startCollection({ id: collection, provider, category, targets: { takealot: 10 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FirebaseError);
    expect((error as FirebaseError).code).toBe('functions/permission-denied');
    expect((error as FirebaseError).message).toContain('operator');
    expect((await db.doc(`collections/${collection}`).get()).exists).toBe(false);
  });

  it('starts a collection as an operator, and reads it back', async () => {
    await signInAs('operator');
    const started = await tollgate.startCollection({
      id: collection,
      provider,
      category,
      targets: { takealot: 10 },
    });
    expect(started).toMatchObject({ created: true, changed: true });
    expect(started.auditId).toEqual(expect.any(String));
    const audit = await db.doc(`auditLog/${started.auditId}`).get();
    expect(audit.get('who')).toMatchObject({
      email: `client-operator-${run}@tollgate.local`,
      role: 'operator',
    });
    const status = await tollgate.getCollectionStatus({ id: collection });
    expect(status).toMatchObject({ id: collection, provider, category, status: 'running' });
  });

  it('refuses an invalid input on the client, naming the field, without a call', async () => {
    await signInAs('operator');
    const error = await tollgate
      .startCollection({ id: collection, provider, category, targets: { takealot: -5 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TollgateInputError);
    expect((error as TollgateInputError).field).toBe('targets.takealot');
    // The collection still has the target the operator set.
    const stored = await db.doc(`collections/${collection}`).get();
    expect(stored.get('marketplaces.takealot.target')).toBe(10);
  });

  it("surfaces the function's own errors: a category of another provider", async () => {
    await signInAs('operator');
    const error = await tollgate
      .startCollection({ id: `${collection}-x`, provider: 'keepa', category, targets: { a: 1 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FirebaseError);
    expect((error as FirebaseError).code).toBe('functions/failed-precondition');
  });

  it('answers resource-exhausted with the wait past the per-user call limit', async () => {
    // A user of its own: the limit is per user (functions/.env: 60 at once, 120 a minute).
    await signInAs('viewer', 'client-limited');
    const startedMs = Date.now();
    let admitted = 0;
    let refused: FirebaseError | undefined;
    while (!refused && admitted < 1_000) {
      try {
        await tollgate.getRecentWarnings({ limit: 1 });
        admitted++;
      } catch (error) {
        refused = error as FirebaseError;
      }
    }
    const elapsedS = (Date.now() - startedMs) / 1000;
    expect(refused?.code).toBe('functions/resource-exhausted');
    // The burst, and what the bucket refilled meanwhile, never more.
    expect(admitted).toBeGreaterThanOrEqual(60);
    expect(admitted).toBeLessThanOrEqual(61 + Math.ceil(2 * elapsedS));
    const wait = callLimitWaitMs(refused);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(500);
    // After the wait the user may call again; another user was never held up.
    await new Promise((resolve) => setTimeout(resolve, wait));
    await expect(tollgate.getRecentWarnings({ limit: 1 })).resolves.toBeDefined();
    await signInAs('viewer');
    await expect(tollgate.getRecentWarnings({ limit: 1 })).resolves.toBeDefined();
  });
});
