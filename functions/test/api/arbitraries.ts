import fc from 'fast-check';
import { createBackup, serializeBackup } from '../../src/core/backup/backup-create';
import { type BackupFile, backupChecksum } from '../../src/core/backup/backup-file';
import { EXPORTABLE_COLLECTIONS } from '../../src/core/backup/backup-scope';
import type { ImplementedCallable } from '../../src/core/operations';
import { T0 } from './support';

/**
 * Payload generators for the callables' fuzz test: anything at all, values that look like
 * numbers or special words, deep objects, and mutations of valid payloads (a key dropped, added
 * or replaced at any depth), next to payloads drawn from each callable's own domain so that
 * many runs get past the schema into the operation.
 */

const specialNumbers = fc.constantFrom(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.MAX_SAFE_INTEGER + 2,
  2 ** 63,
  1e21,
  -1,
  0.1 + 0.2,
  100.0000001,
  253_402_300_800_000,
);

const specialStrings = fc.constantFrom(
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-0',
  '0x10',
  '',
  ' ',
  '__proto__',
  'constructor',
  'toString',
  '__name__',
  '.',
  '..',
  'a/b',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '\uD800',
  'x'.repeat(200),
  'é'.repeat(600),
);

/** An object nested `depth` levels deep under random keys. */
const deepObject = fc
  .tuple(fc.integer({ min: 20, max: 200 }), fc.string({ maxLength: 5 }))
  .map(([depth, key]) => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = { [key || 'k']: value };
    return value;
  });

const deepArray = fc.integer({ min: 20, max: 200 }).map((depth) => {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
});

export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 2,
    arbitrary: fc.anything({
      maxDepth: 3,
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      withBoxedValues: true,
    }),
  },
  { weight: 2, arbitrary: specialNumbers },
  { weight: 2, arbitrary: specialStrings },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, {}, []) },
  { weight: 1, arbitrary: deepObject },
  { weight: 1, arbitrary: deepArray },
);

type Path = Array<string | number>;

function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(value)) {
    return [prefix, ...value.flatMap((v, i) => pathsOf(v, [...prefix, i]))];
  }
  if (value !== null && typeof value === 'object') {
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
  }
  return [prefix];
}

function objectPathsOf(value: unknown): Path[] {
  return pathsOf(value).filter((path) => {
    const v = getAt(value, path);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  });
}

function getAt(value: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, key) => (v as Record<string | number, unknown>)?.[key], value);
}

/** A copy with `update` applied to the container at `path` (the root for []). */
function updateAt(value: unknown, path: Path, update: (v: unknown) => unknown): unknown {
  if (path.length === 0) return update(value);
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    copy[head as number] = updateAt(copy[head as number], rest, update);
    return copy;
  }
  const copy = { ...(value as Record<string, unknown>) };
  copy[head as string] = updateAt(copy[head as string], rest, update);
  return copy;
}

function deleteAt(value: unknown, path: Path): unknown {
  if (path.length === 0) return undefined;
  const parent = path.slice(0, -1);
  const key = path.at(-1)!;
  return updateAt(value, parent, (container) => {
    if (Array.isArray(container)) return container.filter((_, i) => i !== key);
    const { [key as string]: _, ...rest } = container as Record<string, unknown>;
    return rest;
  });
}

/** Mutations of a valid payload: replace, drop or add a value anywhere in it. */
export function mutationsOf(valid: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(valid);
  const objects = objectPathsOf(valid);
  const arbitraries: fc.Arbitrary<unknown>[] = [
    fc
      .tuple(fc.constantFrom(...paths), anyValue)
      .map(([path, v]) => updateAt(valid, path, () => v)),
    // Deleting the root would be the empty payload, which the domain generators cover.
    ...(paths.length > 1
      ? [fc.constantFrom(...paths.filter((p) => p.length > 0)).map((path) => deleteAt(valid, path))]
      : []),
  ];
  if (objects.length > 0) {
    arbitraries.push(
      fc
        .tuple(
          fc.constantFrom(...objects),
          fc.oneof(fc.string({ maxLength: 10 }), specialStrings),
          anyValue,
        )
        .map(([path, key, v]) => updateAt(valid, path, (o) => ({ ...(o as object), [key]: v }))),
    );
  }
  return fc.oneof(...arbitraries);
}

// ---- Hostile but correctly checksummed backups ---------------------------------------------

/** A file with a valid checksum over `documents` (plain JSON, so encoded as it is). */
export function signedBackup(documents: BackupFile['documents']): string {
  const content = {
    format: 'tollgate-backup' as const,
    version: 1 as const,
    createdAt: new Date(T0).toISOString(),
    projectId: 'demo-test',
    documents,
  };
  return serializeBackup({ ...content, checksum: backupChecksum(content) });
}

type Doc = BackupFile['documents'][string];

/** A map `depth` levels below its top-level field. */
function nestedDoc(depth: number): Doc {
  let value: Doc[string] = 1;
  for (let i = 0; i < depth; i++) value = { k: value };
  return { k: value };
}

/** Paths a restore refuses: the audit log, quota claims, collected data, leases, unknowns. */
const refusedPaths = fc.constantFrom(
  'auditLog/forged',
  'quotaBlocks/keepa~1',
  'quotaSlots/keepa~1',
  'quotaMeters/keepa',
  'usageStats/keepa~deals~1',
  'sales/A~2026~B000000001',
  'products/takealot~1',
  'payloads/p1',
  'writeBatches/marker',
  'ingest/deals/lease/current',
  'autosync/spapi-vendor-sales/lease/current',
  'config/other',
  'collections/deals-2026/findings/x',
);

/** Documents a restore takes as they are (state without a schema of its own). */
const stateDocument = fc
  .tuple(
    fc.constantFrom('cooldownHistory', 'autosync', 'ingest', 'cooldowns'),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
    fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.jsonValue({ maxDepth: 2 }), {
      maxKeys: 3,
    }),
  )
  .map(([c, id, data]) => [`${c}/${id}`, data as Doc] as const);

/** Configuration documents, valid or not alone or with the stored ones. */
const configDocument = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('deals', 'historical', 'reports', 'brand-new'),
      fc.constantFrom('keepa', 'spapi', 'nobody'),
      fc.oneof(fc.integer({ min: 0, max: 150 }), fc.constantFrom(-1, 'ten', null)),
    )
    .map(
      ([id, provider, sharePercent]) =>
        [`categories/${id}`, { provider, sharePercent } as Doc] as const,
    ),
  fc
    .tuple(
      fc.constantFrom('keepa', 'spapi', 'new-one'),
      fc.oneof(
        fc.constant([{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }]),
        fc.constant([{ kind: 'tokenBucket', capacity: 1, refillPerSecond: 5 }]),
        fc.constant([]),
        fc.constant([{ kind: 'nope' }]),
      ),
    )
    .map(([id, limits]) => [`providers/${id}`, { limits } as unknown as Doc] as const),
  fc
    .oneof(
      fc.constant({ maintenance: false, maxAwaitSeconds: 30 }),
      fc.constant({ maxAwaitSeconds: 'soon' }),
      fc.constant({ maintenance: 'yes' }),
    )
    .map((flags) => ['config/flags', flags as Doc] as const),
  fc
    .oneof(
      fc.constant({ collections: { stalledAfterMinutes: 60 } }),
      fc.constant({ collections: { stalledAfterMinutes: -1 } }),
      fc.constant({ validation: { marketplaces: { takealot: { minConfidence: 0.5 } } } }),
      fc.constant({ batching: { size: 0 } }),
    )
    .map((pipeline) => ['config/pipeline', pipeline as Doc] as const),
);

/** Documents Firestore (or the Admin SDK) would refuse part way through a restore. */
const refusedDocument = fc.oneof(
  fc
    .integer({ min: 19, max: 30 })
    .map((depth) => ['cooldownHistory/deep', nestedDoc(depth)] as const),
  fc.constant(['cooldownHistory/long', { note: 'x'.repeat(1_048_488) } as Doc] as const),
  fc.constant([
    'cooldownHistory/wide',
    { ['a'.repeat(800)]: { ['b'.repeat(800)]: 1 } } as Doc,
  ] as const),
  fc.constant(['cooldownHistory/__x__', { n: 1 } as Doc] as const),
  fc.constant(['cooldownHistory/reserved', { __x__: 1 } as Doc] as const),
);

/**
 * Backups whose checksum is right but whose content a restore must refuse (or, sometimes,
 * take): documents outside the backup, too deep or too large, configuration out of schema or
 * breaking the rules between documents, and 601 documents with a bad one in the second batch.
 */
export const hostileBackups: fc.Arbitrary<string> = fc
  .oneof(
    fc
      .tuple(
        fc.array(stateDocument, { maxLength: 3 }),
        fc.array(
          fc.oneof(
            refusedPaths.map((p) => [p, { n: 1 } as Doc] as const),
            configDocument,
            refusedDocument,
          ),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
      )
      .map(([ok, bad]) => [...ok, ...bad]),
    fc.array(configDocument, { minLength: 1, maxLength: 3 }),
    fc.tuple(fc.integer({ min: 500, max: 600 }), refusedDocument).map(([at, bad]) => {
      const docs: Array<readonly [string, Doc]> = Array.from(
        { length: 601 },
        (_, i) => [`cooldownHistory/h-${String(i).padStart(3, '0')}`, { i }] as const,
      );
      docs[at] = [`cooldownHistory/h-${String(at).padStart(3, '0')}`, bad[1]];
      return docs;
    }),
  )
  .map((docs) => signedBackup(Object.fromEntries(docs)));

// Domain values: ids that exist in the seed, ids that do not, numbers around the bounds.
/** A small, valid backup file: the same flags the fixture seeds. */
const VALID_BACKUP = serializeBackup(
  createBackup({
    createdAt: T0,
    projectId: 'demo-test',
    documents: { 'config/flags': { maintenance: false } },
  }),
);

/** Map keys Firestore refuses or that read prototype members: empty, `__x__`, too long... */
const mapKeys = fc.oneof(
  specialStrings,
  fc.constantFrom(
    '__x__',
    '__name__',
    'a'.repeat(2000),
    'é'.repeat(800),
    'A',
    'a.b',
    'a b',
    'hasOwnProperty',
  ),
  fc.string({ maxLength: 8 }),
);

const ids = fc.constantFrom(
  'keepa',
  'spapi',
  'deals',
  'historical',
  'reports',
  'deals-2026',
  'nope',
  'takealot',
);
const percent = fc.oneof(
  fc.integer({ min: 0, max: 100 }),
  fc.double({ min: -5, max: 105, noNaN: true }),
  fc.constantFrom(0, 1, 99.99, 100, 100.01),
);
const smallInt = fc.integer({ min: -5, max: 2000 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

function record(shape: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  return fc.record(shape, { requiredKeys: [] });
}

/** Per callable: valid payloads (seeds for mutations) and a generator of its domain. */
export const domains: Record<
  ImplementedCallable,
  { valid: unknown[]; domain: fc.Arbitrary<unknown> }
> = {
  getStatus: {
    valid: [{}, { usageWindowMinutes: 10 }],
    domain: record({ usageWindowMinutes: smallInt }),
  },
  getCollectionStatus: {
    valid: [{ id: 'deals-2026' }],
    domain: record({ id: ids }),
  },
  listCollections: {
    valid: [{}, { status: 'running', limit: 10 }],
    domain: record({
      status: fc.constantFrom('running', 'paused', 'completed', 'stalled', 'done', ''),
      limit: smallInt,
    }),
  },
  listAuditLog: {
    valid: [{}, { limit: 5 }, { what: 'pauseCategory', target: 'categories/deals' }],
    domain: record({
      limit: smallInt,
      startAfter: fc.oneof(ids, specialStrings),
      target: fc.oneof(fc.constantFrom('categories/deals', 'config/flags', ''), specialStrings),
      what: fc.oneof(fc.constantFrom('pauseCategory', 'setFlags', 'x y'), ids),
    }),
  },
  restartCollection: {
    valid: [{ id: 'deals-2026' }],
    domain: record({ id: ids }),
  },
  getValidationReport: {
    valid: [{}, { marketplace: 'takealot', history: 5, findings: 3 }],
    domain: record({ marketplace: ids, history: smallInt, findings: smallInt }),
  },
  getQuotaStats: {
    valid: [{ provider: 'keepa', category: 'deals', minutes: 30 }],
    domain: record({ provider: ids, category: ids, minutes: smallInt }),
  },
  getRealtimeSalesSummary: {
    valid: [{}, { sinceHours: 48, marketplaceId: 'ATVPDKIKX0DER', top: 5 }],
    domain: record({
      sinceHours: fc.oneof(smallInt, fc.double()),
      marketplaceId: fc.oneof(ids, mapKeys, fc.constantFrom('ATVPDKIKX0DER', 'a/b', 'a~b')),
      top: smallInt,
    }),
  },
  refreshRealtimeSales: {
    valid: [{}, { sinceHours: 6 }, { window: 'last_3h' }, { window: 'last_24h' }],
    domain: record({
      sinceHours: fc.oneof(smallInt, fc.double()),
      window: fc.oneof(
        fc.constantFrom('last_3h', 'last_24h', 'last_week', ''),
        record({
          startMs: fc.oneof(fc.integer(), fc.double()),
          endMs: fc.oneof(fc.integer(), fc.double()),
        }),
      ),
    }),
  },
  exportBackup: {
    valid: [{}, { collections: ['providers', 'categories'] }, { collections: ['auditLog'] }],
    domain: record({
      collections: fc.array(
        fc.oneof(
          fc.constantFrom(...EXPORTABLE_COLLECTIONS),
          fc.constantFrom(
            'products',
            'sales',
            'usageStats',
            'quotaBlocks',
            'payloads',
            'Providers',
          ),
          ids,
          fc.string(),
        ),
        { maxLength: 3 },
      ),
    }),
  },
  importBackup: {
    valid: [
      { backup: VALID_BACKUP, dryRun: true },
      { backup: VALID_BACKUP },
      // One character changed: refused by its checksum, nothing written.
      { backup: VALID_BACKUP.replace('false', 'fals3') },
      { backup: VALID_BACKUP.slice(0, 40) },
      // Checksummed, but a forged audit entry: refused as a whole.
      { backup: signedBackup({ 'auditLog/forged': { what: 'setUserRole' } }) },
    ],
    domain: record({
      backup: fc.oneof(
        fc.string(),
        hostileBackups,
        hostileBackups,
        fc.constant(VALID_BACKUP),
        fc
          .tuple(
            fc.nat({ max: VALID_BACKUP.length - 1 }),
            fc.string({ minLength: 1, maxLength: 1 }),
          )
          .map(([i, c]) => VALID_BACKUP.slice(0, i) + c + VALID_BACKUP.slice(i + 1)),
      ),
      dryRun: fc.boolean(),
    }),
  },
  getRecentWarnings: {
    valid: [{ limit: 10, sinceMs: 0 }],
    domain: record({ limit: smallInt, sinceMs: fc.oneof(smallInt, fc.double()) }),
  },
  startCollection: {
    valid: [
      { id: 'deals-2026', provider: 'keepa', category: 'deals', targets: { takealot: 150 } },
      {
        id: 'deals-2026',
        provider: 'keepa',
        category: 'deals',
        targets: { takealot: 150 },
        deadline: { atMs: Date.UTC(2026, 11, 24), raiseShare: { maxSharePercent: 60 } },
      },
      {
        id: 'new-one',
        provider: 'keepa',
        category: 'historical',
        targets: { takealot: 10, makro: 5 },
        phases: [
          { fromPercent: 0, sharePercent: 20 },
          { fromPercent: 50, sharePercent: 5 },
        ],
      },
    ],
    domain: record({
      id: ids,
      provider: ids,
      category: ids,
      targets: fc.dictionary(fc.oneof(ids, mapKeys), smallInt, { maxKeys: 3 }),
      phases: maybe(
        fc.array(fc.record({ fromPercent: percent, sharePercent: percent }), { maxLength: 4 }),
      ),
      deadline: fc.oneof(
        fc.constant(null),
        record({
          atMs: fc.oneof(fc.integer({ min: -1, max: 2 ** 45 }), fc.double()),
          raiseShare: fc.oneof(fc.constant(null), record({ maxSharePercent: percent })),
        }),
      ),
    }),
  },
  setCategoryAllocation: {
    valid: [
      { category: 'historical', sharePercent: 20 },
      { category: 'deals', sharePercent: 10, redistribute: true },
      { category: 'reports', overridePercent: 30, priority: 2, minSharePercent: 2 },
    ],
    domain: record({
      category: ids,
      sharePercent: percent,
      overridePercent: fc.option(percent, { nil: null }),
      priority: smallInt,
      minSharePercent: percent,
      redistribute: fc.boolean(),
    }),
  },
  pauseCategory: { valid: [{ category: 'deals' }], domain: record({ category: ids }) },
  resumeCategory: { valid: [{ category: 'deals' }], domain: record({ category: ids }) },
  clearCooldown: { valid: [{ provider: 'keepa' }], domain: record({ provider: ids }) },
  startCooldown: {
    valid: [{ provider: 'keepa', seconds: 600, reason: 'upstream asked us to pause' }],
    domain: record({
      provider: ids,
      seconds: fc.oneof(smallInt, fc.integer({ min: -10, max: 4_000_000 }), fc.double()),
      reason: fc.string({ maxLength: 600 }),
    }),
  },
  setProviderLimits: {
    valid: [
      { provider: 'keepa', cooldownSeconds: 900 },
      {
        provider: 'keepa',
        limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5 }],
        settings: { domainId: 3 },
      },
      {
        provider: 'brand-new',
        limits: [{ kind: 'window', unit: 'minute', limit: 60, measure: 'requests' }],
        baseUrl: 'https://api.example.com/v1',
      },
      {
        provider: 'spapi',
        baseUrl: null,
        endpoints: { lwa: 'https://api.amazon.com/auth/o2/token' },
      },
    ],
    domain: record({
      provider: fc.oneof(ids, fc.constantFrom('keepa', 'spapi', 'callers')),
      displayName: fc.string({ maxLength: 250 }),
      limits: fc.array(
        fc.oneof(
          record({
            kind: fc.constant('tokenBucket'),
            capacity: smallInt,
            refillPerSecond: fc.oneof(smallInt, fc.double()),
            blockTokens: smallInt,
          }),
          record({
            kind: fc.constant('window'),
            unit: fc.constantFrom('second', 'minute', 'day', 'year'),
            limit: smallInt,
            measure: fc.constantFrom('cost', 'requests', 'bytes', 'x'),
          }),
          record({
            kind: fc.constant('operation'),
            operation: fc.string({ maxLength: 20 }),
            ratePerSecond: fc.double(),
            burst: smallInt,
          }),
          record({ kind: fc.constant('concurrency'), max: smallInt }),
        ),
        { maxLength: 4 },
      ),
      cooldownSeconds: fc.oneof(smallInt, fc.double()),
      safetyMarginMs: fc.oneof(smallInt, fc.integer({ min: 0, max: 120_000 })),
      baseUrl: fc.oneof(
        fc.constant(null),
        fc.constantFrom(
          'https://api.example.com',
          'http://169.254.169.254/latest',
          'https://user:pass@example.com',
          'ftp://example.com',
          'https://example.com/?key=secret',
          'http://127.0.0.1:9999',
        ),
        fc.string({ maxLength: 40 }),
      ),
      endpoints: fc.dictionary(fc.oneof(ids, mapKeys), fc.string({ maxLength: 40 }), {
        maxKeys: 2,
      }),
      settings: fc.dictionary(
        fc.oneof(ids, mapKeys),
        fc.oneof(fc.string({ maxLength: 20 }), smallInt, fc.boolean(), fc.array(fc.string())),
        { maxKeys: 3 },
      ),
    }),
  },
  setMaintenanceMode: {
    valid: [{ enabled: true, reason: 'upgrade' }, { enabled: false }],
    domain: record({ enabled: fc.boolean(), reason: fc.string({ maxLength: 600 }) }),
  },
  purgeProviderQueues: {
    valid: [{ provider: 'keepa', reason: 'stale work after a config mistake' }],
    domain: record({ provider: ids, reason: fc.string({ maxLength: 600 }) }),
  },
  simulatePolicy: {
    valid: [
      {
        from: T0 - 10 * 60_000,
        to: T0,
        policy: { categories: [{ id: 'deals', sharePercent: 40 }] },
        instances: 2,
      },
    ],
    domain: record({
      from: fc.oneof(fc.constant(T0 - 5 * 60_000), smallInt),
      to: fc.oneof(fc.constant(T0), smallInt),
      policy: record({
        providers: fc.array(record({ id: ids, safetyMarginMs: smallInt }), { maxLength: 2 }),
        categories: fc.array(
          record({
            id: ids,
            sharePercent: fc.double({ min: -10, max: 120 }),
            paused: fc.boolean(),
          }),
          { maxLength: 3 },
        ),
        flags: record({ maxAwaitSeconds: smallInt, maintenance: fc.boolean() }),
      }),
      provider: ids,
      instances: fc.integer({ min: 0, max: 5 }),
    }),
  },
  setFlags: {
    valid: [
      { flags: { dailyAuditEnabled: false, maxAwaitSeconds: 30 } },
      { pipeline: { collections: { stalledAfterMinutes: 60 }, aggregation: { minResponses: 2 } } },
      {
        pipeline: {
          collections: {
            phases: [
              { fromPercent: 0, sharePercent: 10 },
              { fromPercent: 40, sharePercent: 5 },
            ],
          },
        },
      },
      { pipeline: { validation: { marketplaces: { takealot: { minConfidence: 0.5 } } } } },
    ],
    domain: record({
      flags: record({
        maxAwaitSeconds: smallInt,
        dailyAuditEnabled: fc.boolean(),
        weeklyAuditEnabled: fc.boolean(),
      }),
      pipeline: record({
        collections: record({ stalledAfterMinutes: smallInt, rateWindowMinutes: smallInt }),
        aggregation: record({ minResponses: smallInt, timeoutSeconds: smallInt }),
        batching: record({ maxDeficit: smallInt, order: fc.array(ids, { maxLength: 3 }) }),
        // Every map key a client can write: marketplaces' overrides.
        validation: record({
          marketplaces: fc.dictionary(
            fc.oneof(ids, mapKeys),
            record({ minConfidence: fc.double({ min: -1, max: 2 }), minPricePoints: smallInt }),
            { maxKeys: 3 },
          ),
          minConfidence: fc.double({ min: -1, max: 2 }),
        }),
      }),
    }),
  },
  validateData: {
    valid: [{}, { marketplace: 'takealot' }],
    domain: fc.oneof(fc.constantFrom({}, null, undefined), record({ marketplace: ids })),
  },
  forceFlush: {
    valid: [{ workItemIds: ['item-1'] }, {}],
    domain: record({
      workItemIds: fc.array(fc.oneof(ids, fc.constant('item-1'), specialStrings), {
        maxLength: 3,
      }),
    }),
  },
  setUserRole: {
    valid: [
      { uid: 'user-2', role: 'operator' },
      { uid: 'user-2', role: null },
    ],
    domain: record({
      uid: fc.oneof(fc.constantFrom('user-2', 'admin-1', 'caller-1', 'ghost'), specialStrings),
      role: fc.constantFrom('viewer', 'operator', 'admin', null, 'root'),
    }),
  },
};

/**
 * The fuzz payloads of one callable. A validation run is slow to succeed (a dozen round trips),
 * so its fuzz leans on malformed payloads; the others reach their operations often.
 */
export function payloadsFor(name: ImplementedCallable): fc.Arbitrary<unknown> {
  const { valid, domain } = domains[name];
  const slow = name === 'validateData';
  return fc.oneof(
    { weight: slow ? 8 : 2, arbitrary: anyValue },
    { weight: slow ? 8 : 4, arbitrary: fc.oneof(...valid.map(mutationsOf)) },
    { weight: slow ? 1 : 3, arbitrary: domain },
  );
}
