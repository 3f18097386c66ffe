import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type IndexSpec,
  indexNeed,
  missingIndex,
  programOf,
  type QueryScan,
  scanQueries,
} from './firestore-queries';

/**
 * What `firebase deploy --only functions,firestore` does before it talks to Google, replayed with
 * firebase-tools' own modules, offline: the runtime guard, the Node delegate's validation,
 * discovery of the manifest the built functions (functions/lib) declare, non-interactive param
 * resolution from functions/.env, endpoint validation, the upload archive and the index spec
 * check. Only the calls that would reach Google are left out (API enablement, the existing
 * backend, IAM, secret versions) or answered locally (Secret Manager says each secret exists);
 * the loopback guard of the test run fails it if anything tries to leave the machine.
 *
 * Then every exported function is compared with a table of what it should deploy as, both ways,
 * and every query of the code with the indexes firestore.indexes.json declares.
 */

const functionsDir = join(__dirname, '..', '..');
const projectDir = join(functionsDir, '..');
const toolsLib = join(projectDir, 'node_modules', 'firebase-tools', 'lib');
const load = createRequire(__filename);
// biome-ignore lint/suspicious/noExplicitAny: firebase-tools ships no typings for its modules
type Module = Record<string, any>;
const tool = (path: string): Module => load(join(toolsLib, path)) as Module;

const projectConfig = tool('functions/projectConfig');
const runtimes = tool('deploy/functions/runtimes');
const supported = tool('deploy/functions/runtimes/supported');
const functionsEnv = tool('functions/env');
const buildModule = tool('deploy/functions/build');
const backendModule = tool('deploy/functions/backend');
const prepare = tool('deploy/functions/prepare');
const validate = tool('deploy/functions/validate');
const upload = tool('deploy/functions/prepareFunctionsUpload');
const secretManager = tool('gcp/secretManager');
const versioning = tool('deploy/functions/runtimes/node/versioning');
const firestoreApi = tool('firestore/api');
const loadCJSON = tool('loadCJSON');

const firebaseJson = JSON.parse(readFileSync(join(projectDir, 'firebase.json'), 'utf8'));
const PROJECT_ID = JSON.parse(readFileSync(join(projectDir, '.firebaserc'), 'utf8')).projects
  .default as string;
/** What the Firebase management API answers for a project created today. */
const FIREBASE_CONFIG = {
  projectId: PROJECT_ID,
  storageBucket: `${PROJECT_ID}.firebasestorage.app`,
};

interface Endpoint {
  id: string;
  region: string;
  platform: string;
  runtime: string;
  availableMemoryMb?: number | null;
  concurrency?: number | null;
  timeoutSeconds?: number | null;
  maxInstances?: number | null;
  minInstances?: number | null;
  serviceAccount?: string | null;
  ingressSettings?: string | null;
  secretEnvironmentVariables?: Array<{ key: string; secret: string }>;
  httpsTrigger?: { invoker?: string[] | null };
  callableTrigger?: Record<string, unknown>;
  scheduleTrigger?: { schedule: string; timeZone?: string | null; retryConfig?: object };
  taskQueueTrigger?: {
    retryConfig?: Record<string, number | null>;
    rateLimits?: Record<string, number | null>;
    invoker?: string[] | null;
  };
  eventTrigger?: unknown;
  blockingTrigger?: unknown;
}

/** Runs `fn` with these process variables set (the discovery child reads them). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Names in a zip archive, from its central directory. */
function zipEntries(zip: Buffer): string[] {
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error('not a zip archive');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory');
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extra + comment;
  }
  return names;
}

interface Replay {
  runtime: string;
  /** The firebase-functions version the delegate checked. */
  sdkVersion: string;
  /** Times the delegate asked the npm registry for the latest SDK (answered: unreachable). */
  registryLookups: number;
  params: Array<{ name: string; type: string }>;
  /** Secrets non-interactive param resolution looked up in Secret Manager. */
  secretsAsked: string[];
  /** Params resolved, with whether a value came from functions/.env. */
  paramValues: Record<string, { value: string; fromEnv: boolean }>;
  endpoints: Endpoint[];
  upload: string[];
}

/** firebase-tools' prepare step for the functions codebase, without its calls to Google. */
async function replayFunctionsPrepare(
  overrides: Record<string, string> = {},
  { packageUpload = true } = {},
): Promise<Replay> {
  const configs = projectConfig.normalizeAndValidate(firebaseJson.functions);
  expect(configs).toHaveLength(1);
  const local = projectConfig.requireLocal(
    projectConfig.configForCodebase(configs, 'default'),
    'Remote sources are not supported.',
  );
  const sourceDir = join(projectDir, local.source);
  const runtime = local.runtime as string;

  // loadCodebases: the runtime named in firebase.json, the guard against a decommissioned
  // runtime, the Node delegate's checks of package.json and the SDK, then discovery.
  expect(supported.isRuntime(runtime)).toBe(true);
  supported.guardVersionSupport(runtime);
  const delegate = await runtimes.getRuntimeDelegate({
    projectId: PROJECT_ID,
    sourceDir,
    projectDir,
    runtime,
  });
  expect(delegate.language).toBe('nodejs');
  // The SDK check asks `npm show firebase-functions` for the latest version, which would leave
  // the machine: it is answered as when the registry is unreachable (the deploy goes on).
  let registryLookups = 0;
  const getLatestSDKVersion = versioning.getLatestSDKVersion;
  versioning.getLatestSDKVersion = () => {
    registryLookups++;
    return undefined;
  };
  try {
    await delegate.validate();
  } finally {
    versioning.getLatestSDKVersion = getLatestSDKVersion;
  }
  await delegate.build();
  const userEnvOpt = { functionsSource: sourceDir, projectId: PROJECT_ID, projectDir };
  const envs = { ...functionsEnv.loadUserEnvs(userEnvOpt), ...overrides };
  const firebaseEnvs = functionsEnv.loadFirebaseEnvs(FIREBASE_CONFIG, PROJECT_ID);
  // The manifest through a file rather than the SDK's admin port: no port, same manifest.
  // The discovery process keeps the test run's loopback guard.
  const guard = Object.fromEntries(
    ['NODE_OPTIONS', 'TOLLGATE_OFF_LOOPBACK_LOG']
      .filter((k) => process.env[k] !== undefined)
      .map((k) => [k, process.env[k]!]),
  );
  const manifestDir = mkdtempSync(join(tmpdir(), 'tollgate-discovery-'));
  const build = await withEnv<Module>(
    { FIREBASE_FUNCTIONS_DISCOVERY_OUTPUT_PATH: manifestDir, FUNCTIONS_DISCOVERY_TIMEOUT: '120' },
    () =>
      delegate.discoverBuild(
        { firebase: FIREBASE_CONFIG },
        { ...envs, ...firebaseEnvs, GOOGLE_CLOUD_QUOTA_PROJECT: PROJECT_ID, ...guard },
      ),
  ).finally(() => rmSync(manifestDir, { recursive: true, force: true }));
  build.runtime = runtime;
  buildModule.applyEndpointPrefix(build, local.prefix ?? '');

  // Non-interactive param resolution: every param needs a value in functions/.env (or the
  // deploy stops), and each secret param is looked up in Secret Manager, answered here.
  const { userEnvs, secretRefs } = prepare.partitionUserEnvs(envs);
  expect(secretRefs).toEqual({});
  const secretsAsked: string[] = [];
  const getSecretMetadata = secretManager.getSecretMetadata;
  secretManager.getSecretMetadata = async (projectId: string, name: string, version: string) => {
    secretsAsked.push(name);
    const secret = { projectId, name, labels: {}, replication: {} };
    return {
      secret,
      secretVersion: { secret, versionId: version === 'latest' ? '1' : version, state: 'ENABLED' },
    };
  };
  let resolved: { backend: Module; envs: Record<string, Module> };
  try {
    resolved = await buildModule.resolveBackend({
      build,
      firebaseConfig: FIREBASE_CONFIG,
      userEnvs,
      codebase: 'default',
      nonInteractive: true,
      isEmulator: false,
      resolveRegions: (b: Module, values: Module) =>
        prepare.resolveDefaultRegionsForBuild(b, backendModule.empty(), values),
    });
  } finally {
    secretManager.getSecretMetadata = getSecretMetadata;
  }
  const want = resolved.backend;

  // The upload: the archive firebase-tools builds from functions/ and firebase.json's ignore.
  validate.endpointsAreUnique({ default: want });
  validate.noGenerationDowngrades({ default: want }, backendModule.empty());
  let files: string[] = [];
  if (packageUpload) {
    const packaged = await upload.prepareFunctionsUpload(
      projectDir,
      sourceDir,
      { ...local, ignore: [...(local.ignore ?? [])] },
      [],
      undefined,
      { exportType: 'zip' },
    );
    try {
      files = zipEntries(readFileSync(packaged.pathToSource));
    } finally {
      rmSync(packaged.pathToSource, { force: true });
    }
  }

  // What prepare does to the wanted backend before it validates it.
  prepare.inferDetailsFromExisting(want, backendModule.empty(), true);
  prepare.resolveCpuAndConcurrency(want);
  prepare.resolveDefaultTimeout(want);
  validate.endpointsAreValid(want, backendModule.empty());
  prepare.inferBlockingDetails(want);

  return {
    runtime,
    sdkVersion: delegate.sdkVersion,
    registryLookups,
    params: build.params,
    secretsAsked,
    paramValues: Object.fromEntries(
      Object.entries(resolved.envs).map(([name, v]) => [
        name,
        { value: String(v.toSDK()), fromEnv: Object.hasOwn(userEnvs, name) },
      ]),
    ),
    endpoints: backendModule.allEndpoints(want) as Endpoint[],
    upload: files.sort(),
  };
}

// ---- What each function should deploy as -------------------------------------------------------

type Trigger = 'https' | 'callable' | 'schedule' | 'taskQueue';

interface Deployed {
  trigger: Trigger;
  region: string;
  runtime: string;
  platform: string;
  maxInstances?: number;
  minInstances?: number;
  memoryMb?: number;
  concurrency?: number;
  timeoutSeconds?: number;
  serviceAccount?: string;
  ingress?: string;
  /** Secret Manager secrets bound to the function (only those its code reads). */
  secrets: string[];
  schedule?: { schedule: string; timeZone: string | null };
  retry?: Record<string, number>;
  rateLimits?: Record<string, number>;
  invoker?: string[];
}

function triggerOf(e: Endpoint): Trigger {
  if (e.callableTrigger) return 'callable';
  if (e.httpsTrigger) return 'https';
  if (e.scheduleTrigger) return 'schedule';
  if (e.taskQueueTrigger) return 'taskQueue';
  throw new Error(`${e.id}: a trigger the table does not know (${Object.keys(e).join(', ')})`);
}

const present = (o: Record<string, number | null | undefined> = {}) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Record<
    string,
    number
  >;

/** The options that decide how a function runs and what it may do, as deployed. */
function deployed(e: Endpoint): Deployed {
  const out: Deployed = {
    trigger: triggerOf(e),
    region: e.region,
    runtime: e.runtime,
    platform: e.platform,
    secrets: (e.secretEnvironmentVariables ?? []).map((s) => s.secret).sort(),
  };
  if (e.maxInstances != null) out.maxInstances = e.maxInstances;
  if (e.minInstances != null) out.minInstances = e.minInstances;
  if (e.availableMemoryMb != null) out.memoryMb = e.availableMemoryMb;
  // 80 is Cloud Run's default for a whole vCPU (some functions state it): only another is ours.
  if (e.concurrency != null && e.concurrency !== 80) out.concurrency = e.concurrency;
  if (e.timeoutSeconds != null) out.timeoutSeconds = e.timeoutSeconds;
  if (e.serviceAccount != null) out.serviceAccount = e.serviceAccount;
  if (e.ingressSettings != null) out.ingress = e.ingressSettings;
  if (e.scheduleTrigger) {
    out.schedule = {
      schedule: e.scheduleTrigger.schedule,
      timeZone: e.scheduleTrigger.timeZone ?? null,
    };
    const retry = present(e.scheduleTrigger.retryConfig as Record<string, number>);
    if (Object.keys(retry).length > 0) out.retry = retry;
  }
  if (e.taskQueueTrigger) {
    out.retry = present(e.taskQueueTrigger.retryConfig);
    out.rateLimits = present(e.taskQueueTrigger.rateLimits);
  }
  const invoker = e.taskQueueTrigger?.invoker ?? e.httpsTrigger?.invoker;
  if (invoker) out.invoker = invoker;
  return out;
}

const env = functionsEnv.parseStrict(readFileSync(join(functionsDir, '.env'), 'utf8')) as Record<
  string,
  string
>;
const KEEPA = ['KEEPA_API_KEY'];
const SPAPI = ['SPAPI_LWA_CLIENT_ID', 'SPAPI_LWA_CLIENT_SECRET', 'SPAPI_REFRESH_TOKEN'];
const SMARTPROXY = ['SMARTPROXY_PASSWORD', 'SMARTPROXY_USERNAME'];

/** Every function: the region from functions/.env, the runtime from firebase.json, at most 10. */
function expected(trigger: Trigger, options: Partial<Deployed> = {}): Deployed {
  return {
    trigger,
    region: env.TOLLGATE_REGION!,
    runtime: firebaseJson.functions[0].runtime,
    platform: 'gcfv2',
    maxInstances: 10,
    ...options,
    secrets: [...(options.secrets ?? [])].sort(),
  };
}
const callable = (options?: Partial<Deployed>) => expected('callable', options);
const scheduled = (schedule: string, options?: Partial<Deployed>) =>
  expected('schedule', { schedule: { schedule, timeZone: 'UTC' }, ...options });
/** A provider's work queue: rate and retries from functions/.env, the provider's secrets. */
const workQueue = (prefix: string, secrets: string[]) =>
  expected('taskQueue', {
    secrets,
    timeoutSeconds: 300,
    retry: { maxAttempts: Number(env[`${prefix}_WORK_MAX_ATTEMPTS`]), minBackoffSeconds: 10 },
    rateLimits: {
      maxDispatchesPerSecond: Number(env[`${prefix}_WORK_DISPATCHES_PER_SECOND`]),
      maxConcurrentDispatches: Number(env[`${prefix}_WORK_CONCURRENT_DISPATCHES`]),
    },
  });

/**
 * The deploy surface. A function exported from functions/src/index.ts without an entry here, or
 * deploying differently from its entry, fails the test: add or correct the entry deliberately.
 * Secrets: a function binds a provider's secrets only when its own code calls that upstream.
 */
const FUNCTIONS: Record<string, Deployed> = {
  // HTTP: health and Prometheus metrics; both check the metrics token, a secret.
  health: expected('https', { secrets: ['TOLLGATE_METRICS_TOKEN'] }),
  metrics: expected('https', { secrets: ['TOLLGATE_METRICS_TOKEN'] }),

  // The operator and client API. Only refreshRealtimeSales calls an upstream (SP-API).
  clearCooldown: callable(),
  exportBackup: callable({ timeoutSeconds: 540 }),
  forceFlush: callable({ timeoutSeconds: 300 }),
  getCollectionStatus: callable(),
  getQuotaStats: callable(),
  getRealtimeSalesSummary: callable(),
  getRecentWarnings: callable(),
  getStatus: callable(),
  getValidationReport: callable(),
  importBackup: callable({ timeoutSeconds: 540 }),
  listAuditLog: callable(),
  listCollections: callable(),
  pauseCategory: callable(),
  purgeProviderQueues: callable(),
  refreshRealtimeSales: callable({ timeoutSeconds: 120, secrets: SPAPI }),
  restartCollection: callable(),
  resumeCategory: callable(),
  setCategoryAllocation: callable(),
  setProviderLimits: callable(),
  startCooldown: callable(),
  setFlags: callable(),
  setMaintenanceMode: callable(),
  setUserRole: callable(),
  simulatePolicy: callable({ timeoutSeconds: 540, memoryMb: 4096, concurrency: 1 }),
  startCollection: callable(),
  validateData: callable({ timeoutSeconds: 540 }),

  // Schedules (UTC). Starting batches and validation only enqueue work: no upstream calls.
  collectionBatches: scheduled('0 0,6,12,18 * * *'),
  realtimeSalesSync: scheduled('every 15 minutes', { timeoutSeconds: 540, secrets: SPAPI }),
  allocationUpdate: scheduled('0 0,12 * * *'),
  dataValidation: scheduled('0 6,18 * * *', { timeoutSeconds: 540 }),
  payloadCleanup: scheduled('30 3 * * *'),
  // Hourly; it backs up only when config/pipeline's backups slot is due (daily by default).
  scheduledBackup: scheduled('0 * * * *', { timeoutSeconds: 1800, memoryMb: 1024 }),
  heartbeat: scheduled('every 5 minutes'),

  // Task queues. Work queues exist for the providers with work items (not SP-API).
  keepaWork: workQueue('KEEPA', KEEPA),
  smartproxyWork: workQueue('SMARTPROXY', SMARTPROXY),
  keepaIngest: expected('taskQueue', {
    secrets: KEEPA,
    timeoutSeconds: 540,
    retry: { maxAttempts: 5, minBackoffSeconds: 30, maxBackoffSeconds: 600 },
    rateLimits: { maxConcurrentDispatches: 4 },
  }),
  aggregationFlush: expected('taskQueue', {
    retry: { maxAttempts: 5, minBackoffSeconds: 5 },
    rateLimits: { maxConcurrentDispatches: 20 },
  }),
  diagnostics: expected('taskQueue', {
    retry: { maxAttempts: 3, minBackoffSeconds: 1 },
    rateLimits: { maxConcurrentDispatches: 2 },
  }),
};

/** The deployed functions the table lacks, and the table's entries nothing deploys. */
function surfaceDifference(ids: string[]) {
  return {
    withoutEntry: ids.filter((id) => !Object.hasOwn(FUNCTIONS, id)).sort(),
    notExported: Object.keys(FUNCTIONS)
      .filter((id) => !ids.includes(id))
      .sort(),
  };
}

describe('firebase deploy, replayed offline with firebase-tools', () => {
  let replay: Replay;
  beforeAll(async () => {
    replay = await replayFunctionsPrepare();
  }, 180_000);

  it('deploys on a runtime the guard accepts today, and the guard refuses Node.js 20', () => {
    expect(replay.runtime).toBe('nodejs22');
    // The delegate checked the installed SDK (and would have asked the registry for a newer one).
    expect(replay.sdkVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(replay.registryLookups).toBe(1);
    expect(supported.isDecommissioned(replay.runtime)).toBe(false);
    expect(() => supported.guardVersionSupport('nodejs20', new Date('2026-10-31'))).toThrow(
      /decommissioned/,
    );
  });

  it('resolves every param without a prompt, each plain one from functions/.env', () => {
    // A param without a value stops a non-interactive (CI) deploy: the replay would have thrown.
    const plain = replay.params.filter((p) => p.type !== 'secret').map((p) => p.name);
    expect(plain).toContain('ENFORCE_APP_CHECK');
    for (const name of plain) {
      expect(replay.paramValues[name]?.fromEnv, `${name} in functions/.env`).toBe(true);
    }
    // Secrets never live in .env: they come from Secret Manager.
    const secrets = replay.params.filter((p) => p.type === 'secret').map((p) => p.name);
    expect(secrets.filter((name) => Object.hasOwn(env, name))).toEqual([]);
  });

  it('declares exactly the secrets some function binds, and asks Secret Manager for those', () => {
    const declared = replay.params.filter((p) => p.type === 'secret').map((p) => p.name);
    const bound = new Set(replay.endpoints.flatMap((e) => deployed(e).secrets));
    // A declared secret no function binds is still required at every deploy.
    expect([...declared].sort()).toEqual([...bound].sort());
    expect([...replay.secretsAsked].sort()).toEqual([...bound].sort());
  });

  it('deploys every exported function with the options in the table, and nothing else', () => {
    const actual = Object.fromEntries(replay.endpoints.map((e) => [e.id, deployed(e)]));
    // Both ways: a function exported without an entry, or an entry for no exported function.
    expect(surfaceDifference(Object.keys(actual))).toEqual({ withoutEntry: [], notExported: [] });
    for (const [id, want] of Object.entries(FUNCTIONS)) {
      expect(actual[id], id).toEqual(want);
    }
  });

  it('puts every function in TOLLGATE_REGION, whatever it is', async () => {
    const moved = await replayFunctionsPrepare(
      { TOLLGATE_REGION: 'europe-west1' },
      { packageUpload: false },
    );
    expect(new Set(moved.endpoints.map((e) => e.region))).toEqual(new Set(['europe-west1']));
    expect(surfaceDifference(moved.endpoints.map((e) => e.id))).toEqual({
      withoutEntry: [],
      notExported: [],
    });
  }, 180_000);

  it('uploads the built code, package.json, its lockfile and .env, nothing else', () => {
    // The archive firebase-tools built: the lockfile goes with package.json, so Cloud Build runs
    // `npm ci` with the tested versions.
    const outside = replay.upload.filter((f) => !f.startsWith('lib/'));
    expect(outside).toEqual(['.env', 'package-lock.json', 'package.json']);
    const lib = replay.upload.filter((f) => f.startsWith('lib/'));
    expect(lib).toContain('lib/index.js');
    expect(lib.filter((f) => !f.endsWith('.js'))).toEqual([]);
    // Only what today's sources compile to: the build empties lib/ first, so a deleted module
    // is not deployed from a stale compile.
    const stale = lib.filter(
      (f) => !existsSync(join(functionsDir, 'src', f.slice('lib/'.length).replace(/\.js$/, '.ts'))),
    );
    expect(stale).toEqual([]);
    // Also what a checkout may not have yet: what `npm start` writes (local secrets, the
    // emulator's env), sources, tests, tsconfig files and source maps.
    const ignore = firebaseJson.functions[0].ignore as string[];
    for (const entry of [
      '.secret.local',
      '.env.local',
      'src',
      'test',
      'tsconfig.json',
      'tsconfig.*.json',
      '**/*.map',
      'node_modules',
    ]) {
      expect(ignore).toContain(entry);
    }
    expect(ignore.filter((entry) => /package(-lock)?\.json/.test(entry))).toEqual([]);
  });
});

describe('firestore.indexes.json', () => {
  const indexesPath = join(projectDir, firebaseJson.firestore.indexes);
  const raw = loadCJSON.loadCJSON(indexesPath) as {
    indexes?: unknown[];
    fieldOverrides?: unknown[];
  };
  let scan: QueryScan;
  let program: ReturnType<typeof programOf>;
  beforeAll(() => {
    program = programOf(join(functionsDir, 'tsconfig.json'));
    scan = scanQueries(program, projectDir);
  }, 180_000);

  it('passes the index spec check of the deploy', () => {
    const api = new firestoreApi.FirestoreApi();
    const spec = api.upgradeOldSpec({ indexes: raw.indexes, fieldOverrides: raw.fieldOverrides });
    expect(() => api.validateSpec(spec)).not.toThrow();
  });

  it('serves every query of the functions (composite indexes and field overrides)', () => {
    // The scan found the queries (a sanity check that it sees the code), and understood each.
    expect(scan.queries.length).toBeGreaterThan(20);
    expect(scan.queries.map((q) => q.collectionGroup)).toEqual(
      expect.arrayContaining(['quotaReturns', 'items', 'products', 'usageStats', 'sales']),
    );
    expect(scan.unresolved).toEqual([]);
    const spec = raw as IndexSpec;
    const missing = scan.queries.flatMap((q) => {
      const why = missingIndex(q, spec);
      return why ? [`${q.at}: ${q.collectionGroup} ${why}`] : [];
    });
    expect(missing).toEqual([]);
  });

  it('would catch a query that needs a new index or an index the overrides remove', () => {
    const probe = join(functionsDir, 'src', '__index_probe__.ts');
    const withProbe = programOf(join(functionsDir, 'tsconfig.json'), {
      [probe]: `
          import { FieldPath, getFirestore } from 'firebase-admin/firestore';
          import { QUOTA_COLLECTIONS } from './adapters/quota/collections';
          export async function probe(name: string, since: number) {
            const db = getFirestore();
            const blocks = db.collection(QUOTA_COLLECTIONS.blocks);
            let byProvider = blocks.where('provider', '==', 'keepa');
            if (since > 0) byProvider = byProvider.orderBy('claimedAt', 'desc');
            await byProvider.get();
            await blocks.where('expiresAt', '<', since).get();
            await db.collection('sales').where(FieldPath.documentId(), '>=', 'a').get();
            await db.collection(name).where('a', '==', 1).get();
          }
        `,
    });
    const probed = scanQueries(withProbe, projectDir);
    const at = relative(projectDir, probe);
    const found = probed.queries.filter((q) => q.at.startsWith(at));
    const spec = raw as IndexSpec;
    expect(found.map((q) => [q.at, missingIndex(q, spec)])).toEqual([
      // The equality alone is served; with the order on another field it needs a composite.
      [`${at}:9`, undefined],
      [
        `${at}:9`,
        'needs the composite index {"collectionGroup":"quotaBlocks","queryScope":"COLLECTION","fields":[{"fieldPath":"provider","order":"ASCENDING"},{"fieldPath":"claimedAt","order":"DESCENDING"}]}',
      ],
      [
        `${at}:10`,
        'needs a collection single-field index on quotaBlocks.expiresAt (ASCENDING), which a field override in firestore.indexes.json removes',
      ],
      // Document-id ranges need no index.
      [`${at}:11`, undefined],
    ]);
    expect(indexNeed(found[1]!).kind).toBe('composite');
    expect(probed.unresolved).toEqual([
      {
        at: `${at}:12`,
        why: 'a query on a collection that is not named by a literal (db.collection(name))',
      },
    ]);
  }, 180_000);
});
