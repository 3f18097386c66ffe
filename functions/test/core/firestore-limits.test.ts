import { FieldValue, GeoPoint, Timestamp } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackupGeoPoint,
  BackupReference,
  BackupTimestamp,
  BackupVector,
} from '../../src/core/backup/backup-value-model';
import { planBatches } from '../../src/core/storage/batch-plan';
import {
  assertWithinLimits,
  documentLimitIssues,
  FirestoreLimitError,
} from '../../src/core/storage/firestore-limits';
import {
  documentIdProblem,
  documentPathProblem,
  fieldNameProblem,
  utf8Length,
} from '../../src/core/storage/firestore-names';
import {
  documentNameSize,
  documentSize,
  MAX_DOCUMENT_BYTES,
  shrinkToFit,
  valueSize,
} from '../../src/core/storage/firestore-storage-size';
import { testFirestore } from '../support/firestore';

describe('storage size (https://firebase.google.com/docs/firestore/storage-size)', () => {
  it("matches the documentation's worked example: 147 bytes", () => {
    expect(documentNameSize('users/jeff/tasks/my_task_id')).toBe(44);
    const task = {
      type: 'Personal',
      done: false,
      priority: 1,
      description: 'Learn Cloud Firestore',
    };
    expect(documentSize('users/jeff/tasks/my_task_id', task)).toBe(147);
  });

  it('sizes every value type, Admin SDK and backup model alike', () => {
    expect(valueSize(null)).toBe(1);
    expect(valueSize(true)).toBe(1);
    expect(valueSize(3)).toBe(8);
    expect(valueSize(2n ** 62n)).toBe(8);
    expect(valueSize('é')).toBe(3);
    expect(valueSize(new Uint8Array(5))).toBe(5);
    expect(valueSize(Buffer.alloc(7))).toBe(7);
    expect(valueSize(new Date())).toBe(8);
    expect(valueSize(Timestamp.now())).toBe(8);
    expect(valueSize(new BackupTimestamp(0, 0))).toBe(8);
    expect(valueSize(new GeoPoint(1, 2))).toBe(16);
    expect(valueSize(new BackupGeoPoint(1, 2))).toBe(16);
    expect(valueSize(new BackupReference('a/b'))).toBe(2 + 2 + 16);
    expect(valueSize(FieldValue.vector([1, 2, 3]))).toBe(24);
    expect(valueSize(new BackupVector([1, 2]))).toBe(16);
    expect(valueSize([1, 'ab'])).toBe(8 + 3);
    expect(valueSize({ k: 1, m: { n: null } })).toBe(2 + 8 + 2 + (2 + 1));
    expect(valueSize(FieldValue.serverTimestamp())).toBe(8);
    expect(utf8Length('a€😀\uD800')).toBe(1 + 3 + 4 + 3);
  });
});

describe('ids, names and paths', () => {
  it('refuses what Firestore refuses as an id', () => {
    for (const id of ['a', '__x', 'x__', '_x_', '__', '___', 'i'.repeat(1500), 'é'.repeat(750)]) {
      expect(documentIdProblem(id)).toBeUndefined();
    }
    expect(documentIdProblem('')).toMatch(/empty/);
    expect(documentIdProblem('a/b')).toMatch(/contains "\/"/);
    expect(documentIdProblem('.')).toMatch(/not allowed/);
    expect(documentIdProblem('..')).toMatch(/not allowed/);
    expect(documentIdProblem('__x__')).toMatch(/reserved/);
    expect(documentIdProblem('____')).toMatch(/reserved/);
    expect(documentIdProblem('i'.repeat(1501))).toMatch(/1501 bytes \(at most 1500\)/);
    expect(documentIdProblem('é'.repeat(751))).toMatch(/1502 bytes/);
    expect(documentPathProblem('c/__d__')).toMatch(/reserved/);
    expect(documentPathProblem('__c__/d')).toMatch(/reserved/);
    expect(documentPathProblem('c')).toMatch(/even number/);
  });

  it('refuses reserved, empty and over-long field names', () => {
    expect(fieldNameProblem('__x')).toBeUndefined();
    expect(fieldNameProblem('f'.repeat(1500))).toBeUndefined();
    expect(fieldNameProblem('')).toMatch(/empty/);
    expect(fieldNameProblem('__name__')).toMatch(/reserved/);
    expect(fieldNameProblem('f'.repeat(1501))).toMatch(/1501 bytes/);
  });

  it('names each problem of a document with its field path', () => {
    const issues = documentLimitIssues('items/__x__', {
      ok: 1,
      m: { __r__: 1, ['a'.repeat(1498)]: 1, ['b'.repeat(1497)]: 2 },
      list: [{ s: 's'.repeat(1_048_488) }],
      ref: new BackupReference('a/b'),
    });
    expect(issues.map((i) => [i.kind, i.field.join('.').slice(0, 12), i.message])).toEqual([
      ['id', '', expect.stringMatching(/reserved/)],
      ['name', 'm.__r__', expect.stringMatching(/reserved/)],
      ['path', `m.${'a'.repeat(10)}`, 'field path is 1500 bytes (Firestore takes under 1500)'],
      ['value', 'list.s', 'value is 1,048,488 bytes (at most 1,048,487)'],
      ['size', '', expect.stringMatching(/^document is 1,05\d,\d{3} bytes/)],
    ]);
  });

  it('refuses over 1 MiB, exactly at the limit', () => {
    const path = 'c/d';
    const overhead = documentSize(path, { s: '' });
    const fits = { s: 'x'.repeat(MAX_DOCUMENT_BYTES - overhead) };
    expect(documentSize(path, fits)).toBe(MAX_DOCUMENT_BYTES);
    // Split over two fields: one string may not pass 1,048,487 bytes on its own.
    const half = Math.floor(fits.s.length / 2);
    const two = { s: fits.s.slice(0, half), t: fits.s.slice(half + 3) };
    expect(documentSize(path, two)).toBe(MAX_DOCUMENT_BYTES);
    expect(() => assertWithinLimits(path, two)).not.toThrow();
    const over = { ...two, t: `${two.t}!` };
    expect(() => assertWithinLimits(path, over)).toThrow(FirestoreLimitError);
    expect(() => assertWithinLimits(path, over)).toThrow(
      'document "c/d" cannot be written: document is 1,048,577 bytes (Firestore takes at most 1,048,576)',
    );
  });
});

describe('fitting and batching', () => {
  it('shrinkToFit halves a list until the document fits', () => {
    const examples = Array.from({ length: 64 }, () => 'e'.repeat(40_000));
    const { data, n } = shrinkToFit('runs/r/findings/p', examples.length, (k) => ({
      examples: examples.slice(0, k),
    }));
    expect(n).toBe(16);
    expect(documentSize('runs/r/findings/p', data)).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES);
  });

  it('planBatches bounds each batch by count and by weight', () => {
    const weights = [5, 5, 5, 20, 1, 1, 1, 1];
    expect(planBatches(weights, 3, 12, (w) => w)).toEqual([[5, 5], [5], [20], [1, 1, 1], [1]]);
    expect(planBatches([], 3, 12, (w: number) => w)).toEqual([]);
  });
});

describe('agrees with the emulator (production rules) at the boundary', () => {
  let db: FirebaseFirestore.Firestore;
  let close: () => Promise<void>;
  beforeAll(() => {
    ({ db, close } = testFirestore());
  });
  afterAll(() => close());

  it('what the check takes, the emulator takes; one byte more, both refuse', async () => {
    const path = 'limits/exact';
    const at = Timestamp.fromMillis(0);
    const base = { at, where: new GeoPoint(1, 2), tags: ['a', 'b'], n: 1, s: '' };
    const pad = MAX_DOCUMENT_BYTES - documentSize(path, base);
    const half = Math.floor(pad / 2);
    const exact = { ...base, s: 'x'.repeat(half), t: 'y'.repeat(pad - half - 3) };
    expect(documentSize(path, exact)).toBe(MAX_DOCUMENT_BYTES);
    assertWithinLimits(path, exact);
    await db.doc(path).set(exact);
    const over = { ...exact, t: `${exact.t}!` };
    expect(() => assertWithinLimits(path, over)).toThrow(FirestoreLimitError);
    const code = await db
      .doc(path)
      .set(over)
      .then(
        () => 0,
        (e: { code?: number }) => e.code,
      );
    expect(code).toBe(3);
  });

  it('nesting: what the check takes, the Admin SDK takes; one level more, both refuse', () => {
    /** A value `depth` levels below its top-level field, through maps and arrays. */
    const nested = (depth: number, arrays: boolean) => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = arrays && i % 2 === 1 ? [value] : { k: value };
      return { top: value };
    };
    for (const arrays of [false, true]) {
      const ok = nested(20, arrays);
      expect(documentLimitIssues('limits/deep', ok)).toEqual([]);
      // The SDK validates when a write is added to a batch (never committed here).
      db.batch().set(db.doc('limits/deep'), ok);
      const deep = nested(21, arrays);
      expect(documentLimitIssues('limits/deep', deep)).toEqual([
        expect.objectContaining({ kind: 'depth' }),
      ]);
      expect(() => db.batch().set(db.doc('limits/deep'), deep)).toThrow(/deeper than 20 levels/);
    }
  });
});
