import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteApp } from 'firebase-admin/app';
import {
  discoverSchedules,
  fireScheduled,
  type ScheduleMode,
  Scheduler,
} from './control/scheduler.ts';
import { startControlServer } from './control/server.ts';
import { discoverTaskQueues } from './emulators/cloud-tasks/discover.ts';
import { LocalCloudTasks, serveCloudTasks } from './emulators/cloud-tasks/server.ts';
import { adminFirestoreAt } from './emulators/firestore/admin.ts';
import { type FirestoreEmulator, startFirestore } from './emulators/firestore/index.ts';
import { type StorageEmulator, startStorage } from './emulators/storage/index.ts';
import {
  configuredPorts,
  type EmulatorPorts,
  spawnEmulators,
  stopProcessGroup,
  writeConfigWithPorts,
} from './firebase-emulators.ts';
import { localMetricsToken } from './local-secrets.ts';
import { guardLoopback, OFF_LOOPBACK_LOG, type OffLoopbackAttempt } from './loopback.ts';
import { freePort, waitFor } from './ports.ts';
import {
  type Sandboxes,
  type SandboxOptions,
  startSandboxes,
  writeEmulatorEnv,
  writeSecretsFile,
} from './sandboxes.ts';

export const PROJECT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_PROJECT_ID = 'demo-tollgate';
const HOST = '127.0.0.1';
const FIXED = { firestore: 8080, storage: 9199, control: 4600, cloudTasks: 9498 };

export interface StackOptions {
  /** `fixed`: the ports in firebase.json (npm start); `free`: OS-assigned (tests). */
  ports: 'fixed' | 'free';
  projectId?: string;
  /** A Firestore export to load; defaults to emulator-data/firestore.json. `false`: empty. */
  seed?: string | false;
  log?: (line: string) => void;
  /** SP-API sandbox report processing time (its default of 30 s otherwise). */
  spapiProcessingMs?: number;
  /** SP-API rates other than the published ones, for sandbox and gate alike (see sandboxes.ts). */
  spapiRateLimits?: SandboxOptions['spapiRateLimits'];
  /** Where refused connections off loopback are recorded (see loopback.ts). */
  offLoopbackLog?: string;
  /**
   * What fires the scheduled functions (control/scheduler.ts). `cron` (the default, `npm
   * start`): the stack's clock, by each function's cron and time zone. `manual` (the tests):
   * only `POST <control>/schedules/<name>/fire`, optionally as of a given time.
   */
  schedules?: ScheduleMode;
}

export interface Stack {
  projectId: string;
  region: string;
  urls: {
    functions: string;
    hosting: string;
    health: string;
    control: string;
    auth: string;
    /** The stack's Cloud Tasks (enqueue and queue administration; see cloud-tasks/). */
    tasks: string;
    firestore: string;
    storage: string;
    keepa: string;
    spapi: string;
    proxy: string;
    site: string;
  };
  env: Record<string, string>;
  /** The bearer token `metrics` and `health` detail want (functions/.secret.local). */
  metricsToken: string;
  firestore: FirestoreEmulator;
  storage: StorageEmulator;
  sandboxes: Sandboxes;
  scheduler: Scheduler;
  cloudTasks: LocalCloudTasks;
  /** Connections any process of the stack attempted off loopback (each was refused). */
  offLoopback(): OffLoopbackAttempt[];
  stop(): Promise<void>;
}

/** The whole local stack: embedded Firestore and Storage, the control server, firebase-tools. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const projectId = options.projectId ?? DEFAULT_PROJECT_ID;
  const region = 'us-central1';
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log(`stop: ${(error as Error).message}`);
      }
    }
  };
  try {
    const free = options.ports === 'free';
    // Before anything listens or connects: nothing the stack runs may leave 127.0.0.0/8, and
    // nothing here runs on Google Cloud (Google's auth library probes the metadata server).
    process.env.METADATA_SERVER_DETECTION = 'none';
    const loopback = guardLoopback(
      options.offLoopbackLog ??
        OFF_LOOPBACK_LOG(PROJECT_DIR, free ? `test-${process.pid}` : 'start'),
    );
    const port = async (fixed: number) => (free ? freePort() : fixed);
    const seedPath = options.seed ?? join(PROJECT_DIR, 'emulator-data', 'firestore.json');
    const seed =
      seedPath && existsSync(seedPath) ? JSON.parse(readFileSync(seedPath, 'utf8')) : undefined;

    const firestore = await startFirestore({ host: HOST, port: await port(FIXED.firestore), seed });
    cleanups.push(() => firestore.stop());
    const storage = await startStorage({ host: HOST, port: await port(FIXED.storage) });
    cleanups.push(() => storage.stop());
    const sandboxes = await startSandboxes({
      ports: options.ports,
      spapiProcessingMs: options.spapiProcessingMs,
      spapiRateLimits: options.spapiRateLimits,
    });
    cleanups.push(() => sandboxes.stop());
    await pointProvidersAt(projectId, firestore.hostPort, sandboxes.providerPatches);
    writeSecretsFile(join(PROJECT_DIR, 'functions'), sandboxes.secrets);
    const metricsToken = localMetricsToken(join(PROJECT_DIR, 'functions'));
    writeEmulatorEnv(join(PROJECT_DIR, 'functions'));

    const emulatorPorts: EmulatorPorts = free
      ? {
          functions: await freePort(),
          auth: await freePort(),
          hosting: await freePort(),
          tasks: await freePort(),
          hub: await freePort(),
          logging: await freePort(),
        }
      : configuredPorts(PROJECT_DIR);
    const functionsUrl = `http://${HOST}:${emulatorPorts.functions}`;

    // Every task goes through the stack's Cloud Tasks: firebase-tools' Tasks emulator only
    // registers the task-queue functions (it dispatches at once and has no admin API).
    const cloudTasks = new LocalCloudTasks(
      projectId,
      discoverTaskQueues(join(PROJECT_DIR, 'functions'), projectId),
      (queue) => `${functionsUrl}/${projectId}/${queue.region}/${queue.functionName}`,
      { log },
    );
    cleanups.push(() => cloudTasks.stop());
    const tasksServer = await serveCloudTasks(cloudTasks, HOST, await port(FIXED.cloudTasks));
    cleanups.push(() => new Promise<void>((r) => tasksServer.server.close(() => r())));
    // The scheduler's and the CLI's own firebase-admin calls enqueue there too.
    process.env.CLOUD_TASKS_EMULATOR_HOST = tasksServer.hostPort;
    process.env.GCLOUD_PROJECT ??= projectId;
    let scheduler: Scheduler | undefined;
    const controlPort = await port(FIXED.control);
    const control: Server = await startControlServer(
      () => scheduler,
      HOST,
      controlPort,
      () => sandboxes.controlled,
    );
    cleanups.push(() => new Promise<void>((r) => control.close(() => r())));
    const controlUrl = `http://${HOST}:${controlPort}`;

    const env: Record<string, string> = {
      GCLOUD_PROJECT: projectId,
      METADATA_SERVER_DETECTION: 'none',
      FIRESTORE_EMULATOR_HOST: firestore.hostPort,
      STORAGE_EMULATOR_HOST: storage.url,
      FIREBASE_STORAGE_EMULATOR_HOST: `${storage.host}:${storage.port}`,
      FIREBASE_AUTH_EMULATOR_HOST: `${HOST}:${emulatorPorts.auth}`,
      // firebase-tools sets CLOUD_TASKS_EMULATOR_HOST to its own emulator in function workers;
      // the functions' admin app points it here instead (adapters/firebase.ts).
      TOLLGATE_CLOUD_TASKS_HOST: tasksServer.hostPort,
      ...loopback.env,
    };
    const configPath = free
      ? writeConfigWithPorts(PROJECT_DIR, emulatorPorts)
      : join(PROJECT_DIR, 'firebase.json');
    if (free) cleanups.push(() => rmSync(configPath, { force: true }));
    const child = spawnEmulators({
      projectDir: PROJECT_DIR,
      projectId,
      configPath,
      env,
      onLine: (line) => log(`[firebase] ${line}`),
    });
    cleanups.push(() => stopProcessGroup(child));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`firebase emulators exited (${code})`))),
    );
    exited.catch(() => undefined);

    const health = `${functionsUrl}/${projectId}/${region}/health`;
    await Promise.race([
      waitFor(
        'the Functions emulator',
        async () => [200, 503].includes((await fetch(health)).status),
        {
          timeoutMs: 180_000,
          intervalMs: 500,
        },
      ),
      exited,
    ]);

    scheduler = new Scheduler(
      discoverSchedules(join(PROJECT_DIR, 'functions')),
      (fn, scheduleTime) => fireScheduled(functionsUrl, projectId, fn, scheduleTime),
      log,
      { mode: options.schedules ?? 'cron' },
    );
    scheduler.start();
    cleanups.push(() => scheduler?.stop());

    return {
      projectId,
      region,
      urls: {
        functions: functionsUrl,
        hosting: `http://${HOST}:${emulatorPorts.hosting}`,
        health,
        control: controlUrl,
        auth: `http://${HOST}:${emulatorPorts.auth}`,
        tasks: `http://${tasksServer.hostPort}`,
        firestore: firestore.hostPort,
        storage: storage.url,
        keepa: sandboxes.keepa.url,
        spapi: sandboxes.spapi.url,
        proxy: sandboxes.proxy.url,
        site: sandboxes.site.url,
      },
      env,
      metricsToken,
      firestore,
      storage,
      sandboxes,
      scheduler,
      cloudTasks,
      offLoopback: loopback.attempts,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Merges the sandboxes' URLs and settings into the provider documents. */
async function pointProvidersAt(
  projectId: string,
  firestoreHostPort: string,
  patches: Record<string, Record<string, unknown>>,
): Promise<void> {
  const { app, db } = adminFirestoreAt(
    projectId,
    firestoreHostPort,
    `devstack-providers-${Date.now()}`,
  );
  try {
    for (const [id, patch] of Object.entries(patches)) {
      // Only providers the seed configures: a patch alone is no valid provider document.
      const ref = db.doc(`providers/${id}`);
      if ((await ref.get()).exists) await ref.update(patch);
    }
  } finally {
    await deleteApp(app);
  }
}
