import { deleteApp } from 'firebase-admin/app';
import type { Firestore } from 'firebase-admin/firestore';
import { callCallable, signInWithRole } from './auth.ts';
import { adminFirestoreAt } from './emulators/firestore/admin.ts';
import type { Stack } from './stack.ts';

/**
 * What `npm start` shows: the demo collections started through the operator API, the
 * schedules fired at a demo cadence, a status line per collection every few seconds, and one
 * 429 storm from the sandbox price site, so the cooldown and the resumption after it are seen.
 */

export interface DemoOptions {
  log: (line: string) => void;
  /** How often the batches schedule is fired (four times a day in production; 30 s here). */
  batchesEveryMs?: number;
  statusEveryMs?: number;
  /** When the sandbox price site starts answering 429 (once), and for how long. */
  stormAtMs?: number;
  stormForMs?: number;
}

export interface Demo {
  /** An operator's ID token for curl and the CLI (valid for an hour). */
  operatorToken: string;
  /** The demo users (Auth emulator, password DEMO_PASSWORD): the dashboard's sign-in. */
  users: { operator: string; viewer: string };
  stop(): Promise<void>;
}

const DEMO_PROXY_PER_SECOND = 40;

const DEMO_COLLECTIONS = [
  {
    id: 'keepa-deals',
    provider: 'keepa',
    category: 'keepa-deals',
    targets: { 'amazon-de': 300 },
    // A steady ingestor: its category keeps the seed's 70% for the whole collection.
    phases: [{ fromPercent: 0, sharePercent: 70 }],
  },
  {
    id: 'buckcheap-historical',
    provider: 'smartproxy',
    category: 'buckcheap-historical',
    targets: { takealot: 200, makro: 100 },
  },
];

export async function startDemo(stack: Stack, options: DemoOptions): Promise<Demo> {
  const { log } = options;
  const base = `${stack.urls.functions}/${stack.projectId}/${stack.region}`;
  const operator = await signInWithRole(
    stack.urls.auth,
    stack.projectId,
    'demo-operator@tollgate.local',
    'operator',
  );
  const viewer = await signInWithRole(
    stack.urls.auth,
    stack.projectId,
    'demo-viewer@tollgate.local',
    'viewer',
  );
  const { app, db } = adminFirestoreAt(stack.projectId, stack.urls.firestore, `demo-${Date.now()}`);

  // Demo pacing: SP-API reports are polled every 2 s (the sandbox finishes them in 5 s), and
  // the proxy pool allows 40 requests/s instead of the seed's 25 (the sandbox proxy takes 100),
  // so the historical collection passes its phase thresholds within minutes.
  await db.doc('providers/spapi').update({ 'settings.reportPollMs': 2_000 });
  const proxyLimits = (await db.doc('providers/smartproxy').get()).get('limits') as Array<
    Record<string, unknown>
  >;
  await db.doc('providers/smartproxy').update({
    limits: proxyLimits.map((l) =>
      l.kind === 'window' && l.unit === 'second' ? { ...l, limit: DEMO_PROXY_PER_SECOND } : l,
    ),
  });
  for (const collection of DEMO_COLLECTIONS) {
    const answer = await callCallable(base, 'startCollection', collection, operator.idToken);
    log(
      answer.error
        ? `demo: startCollection ${collection.id} failed: ${answer.error.message}`
        : `demo: startCollection ${collection.id} ${JSON.stringify(collection.targets)}`,
    );
  }
  const fire = (name: string) =>
    stack.scheduler
      .fireNow(name)
      .then((run) => log(`demo: fired ${name} (HTTP ${run.status})`))
      .catch((error: Error) => log(`demo: ${name} failed: ${error.message}`));
  void fire('collectionBatches').then(() => fire('realtimeSalesSync'));

  const timers: NodeJS.Timeout[] = [];
  timers.push(setInterval(() => void fire('collectionBatches'), options.batchesEveryMs ?? 30_000));
  timers.push(
    setInterval(
      () => void printStatus(db, log).catch((e: Error) => log(`demo: status: ${e.message}`)),
      options.statusEveryMs ?? 15_000,
    ),
  );
  const storm = setTimeout(() => {
    log('demo: the sandbox price site now answers 429 (Retry-After 60 s): watch the cooldown');
    stack.sandboxes.site.misbehave('429');
    timers.push(
      setTimeout(() => {
        stack.sandboxes.site.misbehave('none');
        log('demo: the sandbox price site is back; work resumes when the cooldown ends');
      }, options.stormForMs ?? 5_000),
    );
  }, options.stormAtMs ?? 90_000);
  timers.push(storm);

  return {
    operatorToken: operator.idToken,
    users: { operator: operator.email, viewer: viewer.email },
    stop: async () => {
      for (const timer of timers) clearTimeout(timer);
      await deleteApp(app);
    },
  };
}

async function printStatus(db: Firestore, log: (line: string) => void): Promise<void> {
  const now = Date.now();
  for (const doc of (await db.collection('collections').get()).docs) {
    const c = doc.data();
    const phase = c.phaseHistory?.at(-1);
    const counts = Object.entries(c.marketplaces ?? {})
      .map(([m, v]) => {
        const { collected, target } = v as { collected: number; target: number };
        return `${m} ${collected}/${target}`;
      })
      .join(', ');
    log(
      `status: ${doc.id.padEnd(22)} ${String(c.status).padEnd(9)} phase ${c.phase} (${phase?.sharePercent}%)  ${counts}`,
    );
  }
  for (const doc of (await db.collection('cooldowns').get()).docs) {
    const until = doc.get('until')?.toMillis?.() as number | undefined;
    if (until && until > now) {
      log(`status: cooldown ${doc.id} for ${Math.ceil((until - now) / 1000)} s more`);
    }
  }
  const sales = (await db.collection('sales').count().get()).data().count;
  const sync = (await db.doc('autosync/spapi-vendor-sales').get()).get('watermarkMs');
  log(
    `status: spapi real-time sales: ${sales} ASIN-hours stored, synced up to ${
      typeof sync === 'number' ? new Date(sync).toISOString() : 'not yet'
    }`,
  );
}
