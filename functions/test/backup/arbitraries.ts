import fc from 'fast-check';
import {
  BackupGeoPoint,
  type BackupMap,
  BackupReference,
  BackupTimestamp,
  type BackupValue,
  BackupVector,
} from '../../src/core/backup/backup-value-model';

const RESERVED = /^__.*__$/;

/** A document id or collection id Firestore accepts, often plain, sometimes odd. */
export const segment = fc
  .oneof(
    fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/),
    fc.string({ minLength: 1, maxLength: 6, unit: 'grapheme' }),
  )
  .filter((s) => !s.includes('/') && s !== '.' && s !== '..' && !RESERVED.test(s));

export const documentPath = fc
  .array(fc.tuple(segment, segment), { minLength: 1, maxLength: 3 })
  .map((pairs) => pairs.flat().join('/'));

/** Field names, including ones that look like the file's tags. */
export const fieldName = fc
  .oneof(
    fc.stringMatching(/^[a-z][A-Za-z0-9]{0,6}$/),
    fc.string({ minLength: 1, maxLength: 5, unit: 'grapheme' }),
    fc.constantFrom('$timestamp', '$map', '$x', '$', 'a.b', 'with space'),
  )
  .filter((s) => s !== '' && !RESERVED.test(s));

export interface ValueOptions {
  /** Only what the Admin SDK reads back exactly as it wrote (no bigint, no vectors). */
  sdk?: boolean;
}

export function values(options: ValueOptions = {}) {
  const scalars: Array<fc.Arbitrary<BackupValue>> = [
    fc.constant(null),
    fc.boolean(),
    fc.string({ maxLength: 8, unit: options.sdk ? 'grapheme' : 'binary' }),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc
      .tuple(fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }), fc.nat(999_999_999))
      .map(([s, ns]) => new BackupTimestamp(s, options.sdk ? ns - (ns % 1000) : ns)),
    fc.uint8Array({ maxLength: 8 }),
    fc
      .tuple(
        fc.double({ min: -90, max: 90, noNaN: true }),
        fc.double({ min: -180, max: 180, noNaN: true }),
      )
      .map(([lat, lng]) => new BackupGeoPoint(lat, lng)),
    documentPath.map((p) => new BackupReference(p)),
  ];
  if (!options.sdk) {
    scalars.push(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc
        .array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 4 })
        .map((v) => new BackupVector(v)),
    );
  }
  const { value } = fc.letrec<{ value: BackupValue; element: BackupValue; map: BackupMap }>(
    (tie) => ({
      // Firestore takes values nested at most 20 levels deep; well within that.
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true, maxDepth: 8 },
        ...scalars,
        fc.array(tie('element'), { maxLength: 4 }),
        tie('map'),
      ),
      // Firestore has no arrays directly in arrays.
      element: fc.oneof({ depthSize: 'small', maxDepth: 8 }, ...scalars, tie('map')),
      map: fc.dictionary(fieldName, tie('value'), { maxKeys: 4 }) as fc.Arbitrary<BackupMap>,
    }),
  );
  return value;
}

export function documentSets(options: ValueOptions = {}) {
  return fc.dictionary(
    documentPath,
    fc.dictionary(fieldName, values(options), { maxKeys: 5 }) as fc.Arbitrary<BackupMap>,
    { maxKeys: 6 },
  );
}

/**
 * Paths a restore writes without a schema of their own to satisfy (state, not configuration):
 * `{collection}/{id}` and `ingest/{id}/items/{id}`.
 */
export const restorablePath = fc.oneof(
  fc
    .tuple(fc.constantFrom('autosync', 'cooldownHistory', 'cooldowns', 'ingest'), segment)
    .map(([c, id]) => `${c}/${id}`),
  fc.tuple(segment, segment).map(([a, b]) => `ingest/${a}/items/${b}`),
);

/** Document sets a restore accepts as they are (see restorablePath). */
export function restorableDocumentSets(options: ValueOptions = {}) {
  return fc.dictionary(
    restorablePath,
    fc.dictionary(fieldName, values(options), { maxKeys: 5 }) as fc.Arbitrary<BackupMap>,
    { maxKeys: 6 },
  );
}
