import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { deleteApp, getApps, initializeApp } from 'firebase-admin/app';
import { getAuth } from 'firebase-admin/auth';
import { getFirestore } from 'firebase-admin/firestore';
import { getStorage } from 'firebase-admin/storage';
import { backupPrefix } from '../../functions/src/adapters/backup/backup-storage.ts';
import type { OperationDeps } from '../../functions/src/adapters/operations/index.ts';
import { enqueueAggregationFlush } from '../../functions/src/adapters/pipeline/aggregation-flush-task.ts';
import { cloudTasksAdmin } from '../../functions/src/adapters/queues/queue-admin.ts';
import { enqueueTask } from '../../functions/src/adapters/queues/task-queue.ts';
import { deployedQueueRate } from '../../functions/src/adapters/queues/work-queue-params.ts';
import { WriteBuffer } from '../../functions/src/adapters/storage/write-buffer.ts';
import type { Actor } from '../../functions/src/core/operations/index.ts';
import {
  DEFAULT_PAYLOAD_CONFIG,
  payloadBucketName,
} from '../../functions/src/core/storage/payloads.ts';
import { UsageError } from './errors.ts';

/** The local stack's fixed ports (firebase.json, devstack/src/stack.ts). */
export const LOCAL_ENV = {
  FIRESTORE_EMULATOR_HOST: '127.0.0.1:8080',
  FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099',
  /** The stack's Cloud Tasks (devstack/src/emulators/cloud-tasks), not firebase-tools' Tasks emulator. */
  CLOUD_TASKS_EMULATOR_HOST: '127.0.0.1:9498',
  /** The stack's Cloud Storage stand-in (devstack/src/emulators/storage): exports' objects. */
  STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9199',
} as const;
export const LOCAL_PROJECT = 'demo-tollgate';

export type Env = Record<string, string | undefined>;

/** Which project the CLI works on. */
export interface Target {
  projectId: string;
  /** The local stack's emulators (`--local`). */
  local: boolean;
  /** FIRESTORE_EMULATOR_HOST, when an emulator stands in for Firestore. */
  firestoreEmulator?: string;
}

/**
 * `--local`: the local stack's emulators and project, unless the environment already names
 * them (so a stack on other ports is reached by exporting its variables). Otherwise
 * `--project <id>` (or GCLOUD_PROJECT / GOOGLE_CLOUD_PROJECT) with Application Default
 * Credentials. Sets the variables firebase-admin and the functions code read.
 */
export function resolveTarget(options: { project?: string; local?: boolean }, env: Env): Target {
  if (options.local) {
    for (const [key, value] of Object.entries(LOCAL_ENV)) env[key] ??= value;
    env.METADATA_SERVER_DETECTION ??= 'none';
  }
  const projectId =
    options.project ??
    env.GCLOUD_PROJECT ??
    env.GOOGLE_CLOUD_PROJECT ??
    (options.local ? LOCAL_PROJECT : undefined);
  if (!projectId) {
    throw new UsageError(
      'no project: give --project <id> (Application Default Credentials) or --local',
    );
  }
  // The functions code reads the project from here (status, backups, task queues).
  env.GCLOUD_PROJECT = projectId;
  const firestoreEmulator = env.FIRESTORE_EMULATOR_HOST;
  return {
    projectId,
    local: options.local ?? false,
    ...(firestoreEmulator ? { firestoreEmulator } : {}),
  };
}

/**
 * Who the CLI acts as against the local stack (its emulators): a fixed, explicit identity, so
 * nothing is asked of Google and nothing is taken from the environment or the OS user.
 */
export const LOCAL_ACTOR_EMAIL = 'local-cli@demo-tollgate.invalid';

/** Answers the email of whoever the CLI acts as on `target`. */
export type ResolvePrincipal = (target: Target) => Promise<string>;

/** The part of google-auth-library's GoogleAuth the principal lookup uses (a fake in tests). */
export interface AdcAuth {
  getCredentials(): Promise<{ client_email?: string | null }>;
  getClient(): Promise<{
    getAccessToken(): Promise<{ token?: string | null }>;
    getTokenInfo?(token: string): Promise<{ email?: string }>;
  }>;
}

async function googleAuth(): Promise<AdcAuth> {
  const { GoogleAuth } = await import('google-auth-library');
  return new GoogleAuth({
    scopes: [
      'https://www.googleapis.com/auth/cloud-platform',
      'https://www.googleapis.com/auth/userinfo.email',
    ],
  }) as unknown as AdcAuth;
}

/**
 * The signed-in principal of Application Default Credentials: a service account's email from
 * its credentials (a key file, the metadata server), else the email the access token was issued
 * to (`gcloud auth application-default login`). The local stack (`--local`, or a Firestore
 * emulator) has the explicit LOCAL_ACTOR_EMAIL and never asks Google. Nothing else names the
 * actor: not $TOLLGATE_ACTOR_EMAIL, not the OS user.
 */
export function adcPrincipal(auth: () => Promise<AdcAuth> = googleAuth): ResolvePrincipal {
  return async (target) => {
    if (target.local || target.firestoreEmulator) return LOCAL_ACTOR_EMAIL;
    const adc = await auth();
    const credentials = await adc.getCredentials().catch(() => ({ client_email: undefined }));
    if (credentials.client_email) return credentials.client_email;
    const client = await adc.getClient();
    const { token } = await client.getAccessToken();
    const info = token && client.getTokenInfo ? await client.getTokenInfo(token) : undefined;
    if (info?.email) return info.email;
    throw new UsageError(
      'cannot tell who the Application Default Credentials belong to (no service account email, no email in the token): sign in with `gcloud auth application-default login` or use a service account',
    );
  };
}

/** Who the CLI acts as, in every audit entry it writes: uid `cli`, role admin, the principal. */
export function cliActor(email: string): Actor {
  return { uid: 'cli', email, role: 'admin' };
}

/** What commands run against: the operations' dependencies, opened for one command. */
export interface Session {
  projectId: string;
  deps: OperationDeps;
  /** Writes what is still buffered and lets the process exit. */
  close(): Promise<void>;
}

export type Connect = (target: Target) => Promise<Session>;

/**
 * The functions package's version, as getStatus reports it (adapters/firebase.ts reads it
 * relative to __dirname, which a CommonJS module imported from ESM under tsx does not have).
 */
function functionsVersion(): string {
  const file = new URL('../../functions/package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/**
 * The default firebase-admin app on the target, with the same dependencies the callables get
 * (entry/operations/deps.ts): its Firestore and Auth, Cloud Tasks for validation fixes and
 * aggregation flushes and for the provider queues' administration, a write buffer for aggregation statistics (flushed on close).
 */
export const connectAdmin: Connect = async (target) => {
  if (target.firestoreEmulator) await reachable(target.firestoreEmulator);
  if (getApps().some((app) => app.name === '[DEFAULT]')) {
    throw new Error('the default firebase-admin app is already initialized');
  }
  const app = initializeApp({ projectId: target.projectId });
  const db = getFirestore(app);
  db.settings({ ignoreUndefinedProperties: true }); // as functions/src/adapters/firebase.ts
  const buffer = new WriteBuffer(db);
  const deps: OperationDeps = {
    db,
    now: Date.now,
    users: getAuth(app),
    enqueue: (queue, item, options) => enqueueTask(queue, item, options),
    aggregationStats: buffer,
    scheduleFlush: (workItemId, atMs) => enqueueAggregationFlush(workItemId, atMs),
    projectId: () => target.projectId,
    version: functionsVersion,
    // The queues' deploy-time bounds are read from the environment (functions/.env's names).
    queues: { admin: cloudTasksAdmin(), deployed: deployedQueueRate },
    // As the functions name it (backup-storage.ts instanceBackupStorage), on this app.
    backups: () => {
      const storage = getStorage(app);
      const bucketNamed = (configured: string | undefined) =>
        storage.bucket(
          payloadBucketName({
            configured,
            appDefault: app.options.storageBucket,
            project: target.projectId,
          }),
        );
      return {
        bucket: bucketNamed(
          process.env.TOLLGATE_BACKUP_BUCKET || process.env.TOLLGATE_PAYLOAD_BUCKET,
        ),
        prefix: backupPrefix(process.env.TOLLGATE_BACKUP_PREFIX),
        spoolPrefix: DEFAULT_PAYLOAD_CONFIG.temporaryPrefix,
        // A scheduled backup's payload objects are restored into the payloads' bucket.
        payloads: bucketNamed(process.env.TOLLGATE_PAYLOAD_BUCKET),
      };
    },
  };
  return {
    projectId: target.projectId,
    deps,
    close: async () => {
      try {
        await buffer.flush();
      } finally {
        await deleteApp(app);
      }
    },
  };
};

/**
 * Fails at once when no emulator listens where FIRESTORE_EMULATOR_HOST says (firebase-admin
 * would retry for most of a minute before giving up).
 */
async function reachable(hostPort: string): Promise<void> {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(at + 1));
  await new Promise<void>((resolve, reject) => {
    const socket = tcpConnect({ host, port, timeout: 3_000 });
    const fail = (why: string) => {
      socket.destroy();
      reject(
        new Error(
          `no Firestore emulator at ${hostPort} (${why}); is the local stack running (npm start)?`,
        ),
      );
    };
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => fail('timed out'));
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
  });
}
