import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';

/**
 * firestore.rules evaluated by Google's Firestore emulator, through @firebase/rules-unit-testing.
 * The embedded emulator the other tests use does not evaluate security rules, so these run
 * only where Google's emulator is running (Java 21 and its jar) and its address is given:
 *
 *     FIRESTORE_RULES_EMULATOR_HOST=127.0.0.1:8085 npx vitest run --project unit functions/test/rules
 *
 * and @firebase/rules-unit-testing is installed (it is not a dependency yet, so it is loaded
 * dynamically). Otherwise the tests are skipped and say why; rules.static.test.ts always runs.
 */

const RULES = readFileSync(join(__dirname, '..', '..', '..', 'firestore.rules'), 'utf8');
const HOST = process.env.FIRESTORE_RULES_EMULATOR_HOST;
const PACKAGE = '@firebase/rules-unit-testing';

function installed(name: string): boolean {
  try {
    createRequire(__filename).resolve(name);
    return true;
  } catch {
    return false;
  }
}

const skipReason = !HOST
  ? "FIRESTORE_RULES_EMULATOR_HOST is not set: security rules need Google's Firestore emulator (Java 21); the embedded emulator used here does not evaluate rules. The static rules check (rules.static.test.ts) still ran."
  : !installed(PACKAGE)
    ? `${PACKAGE} is not installed: add it as a devDependency to run the rules against the emulator at ${HOST}.`
    : undefined;

/** The compat Firestore the package hands out, as far as these tests use it. */
interface CompatFirestore {
  doc(path: string): {
    get(): Promise<unknown>;
    set(data: Record<string, unknown>): Promise<unknown>;
    delete(): Promise<unknown>;
  };
  collection(path: string): {
    get(): Promise<unknown>;
    add(data: Record<string, unknown>): Promise<unknown>;
  };
}
interface Context {
  firestore(): CompatFirestore;
}
interface TestEnvironment {
  authenticatedContext(uid: string, claims?: Record<string, unknown>): Context;
  unauthenticatedContext(): Context;
  withSecurityRulesDisabled(fn: (context: Context) => Promise<void>): Promise<void>;
  cleanup(): Promise<void>;
}
interface RulesUnitTesting {
  initializeTestEnvironment(config: {
    projectId: string;
    firestore: { host: string; port: number; rules: string };
  }): Promise<TestEnvironment>;
  assertSucceeds<T>(promise: Promise<T>): Promise<T>;
  assertFails(promise: Promise<unknown>): Promise<unknown>;
}

const VIEWER_READABLE = [
  'providers/keepa',
  'categories/keepa-deals',
  'config/flags',
  'collections/buckcheap-historical',
  'cooldowns/keepa',
  'quotaAllocations/keepa',
  'sales/A1PA6795UKMFR9~2026-01-10T12:00:00Z~B000000001',
];
const NEVER_READABLE = [
  'usageStats/keepa~deals~202601011200',
  'quotaBlocks/keepa~1',
  'ingest/deals',
  'ingest/deals/items/B000000001',
  'products/p1',
  'providers/keepa/secrets/x',
];

if (skipReason) {
  describe('firestore.rules on the Firestore emulator', () => {
    it.skip(`skipped: ${skipReason}`, () => {});
  });
} else {
  describe('firestore.rules on the Firestore emulator', () => {
    let rut: RulesUnitTesting;
    let env: TestEnvironment;

    beforeAll(async () => {
      const moduleName: string = PACKAGE; // a variable, so tsc does not need the package
      rut = (await import(moduleName)) as RulesUnitTesting;
      const [host, port] = HOST!.split(':');
      env = await rut.initializeTestEnvironment({
        projectId: 'demo-tollgate-rules',
        firestore: { host: host!, port: Number(port), rules: RULES },
      });
      await env.withSecurityRulesDisabled(async (context) => {
        const db = context.firestore();
        for (const path of [...VIEWER_READABLE, ...NEVER_READABLE, 'auditLog/0001']) {
          await db.doc(path).set({ seeded: true });
        }
      });
    });
    afterAll(() => env?.cleanup());

    const viewers: Array<[string, Record<string, unknown>]> = [
      ['role viewer', { role: 'viewer' }],
      ['role operator', { role: 'operator' }],
      ['role admin', { role: 'admin' }],
      ['claim viewer', { viewer: true }],
      ['claim operator', { operator: true }],
      ['claim admin', { admin: true }],
    ];

    it('denies every read to signed-out users and to users without a role', async () => {
      const contexts = [
        env.unauthenticatedContext(),
        env.authenticatedContext('no-role'),
        env.authenticatedContext('odd-role', { role: 'superuser' }),
        env.authenticatedContext('false-claim', { admin: false, viewer: 'yes' }),
      ];
      for (const context of contexts) {
        const db = context.firestore();
        for (const path of [...VIEWER_READABLE, 'auditLog/0001']) {
          await rut.assertFails(db.doc(path).get());
        }
        await rut.assertFails(db.collection('providers').get());
      }
    });

    it.each(viewers)('%s reads the dashboard collections', async (_name, claims) => {
      const db = env.authenticatedContext('u', claims).firestore();
      for (const path of VIEWER_READABLE) await rut.assertSucceeds(db.doc(path).get());
      await rut.assertSucceeds(db.collection('providers').get());
      await rut.assertSucceeds(db.collection('cooldowns').get());
    });

    it.each(viewers)('%s reads nothing else', async (_name, claims) => {
      const db = env.authenticatedContext('u', claims).firestore();
      for (const path of NEVER_READABLE) await rut.assertFails(db.doc(path).get());
      await rut.assertFails(db.collection('usageStats').get());
    });

    it.each(viewers)('%s writes nothing', async (_name, claims) => {
      const db = env.authenticatedContext('u', claims).firestore();
      for (const path of [...VIEWER_READABLE, ...NEVER_READABLE, 'auditLog/0002']) {
        await rut.assertFails(db.doc(path).set({ changed: true }));
        await rut.assertFails(db.doc(path).delete());
      }
      await rut.assertFails(db.collection('auditLog').add({ forged: true }));
    });

    it('only admins read the audit log', async () => {
      for (const [name, claims] of viewers) {
        const db = env.authenticatedContext('u', claims).firestore();
        const read = db.doc('auditLog/0001').get();
        if (name.endsWith('admin')) await rut.assertSucceeds(read);
        else await rut.assertFails(read);
      }
    });
  });
}
