import { describe, expect, it } from 'vitest';
import { createBackup, serializeBackup } from '../../src/core/backup/backup-create';
import { decodeValue, encodeValue } from '../../src/core/backup/backup-encoding';
import { BackupError, backupChecksum, canonicalJson } from '../../src/core/backup/backup-file';
import {
  BackupGeoPoint,
  BackupReference,
  BackupTimestamp,
  BackupVector,
  formatTimestamp,
  parseTimestamp,
} from '../../src/core/backup/backup-value-model';
import { verifyBackup } from '../../src/core/backup/backup-verify';

const CREATED_AT = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function sample() {
  return createBackup({
    createdAt: CREATED_AT,
    projectId: 'demo-tollgate',
    documents: {
      'providers/keepa': {
        displayName: 'Keepa',
        limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5.5 }],
        cooldownSeconds: 300,
      },
      'cooldowns/keepa': {
        until: new BackupTimestamp(1_767_225_600, 123_456_789),
        hits: 3,
        message: null,
        active: true,
      },
      'ingest/deals/items/B000000001': { key: 'B000000001', attempts: 0 },
    },
  });
}

function refusal(input: unknown): BackupError {
  try {
    verifyBackup(input);
  } catch (error) {
    if (error instanceof BackupError) return error;
    throw error;
  }
  throw new Error('the backup was accepted');
}

describe('backup encoding', () => {
  it('keeps JSON-exact values plain and tags the rest', () => {
    expect(encodeValue({ a: 1, b: 1.5, c: 'x', d: null, e: [true, false] })).toEqual({
      a: 1,
      b: 1.5,
      c: 'x',
      d: null,
      e: [true, false],
    });
    expect(encodeValue(new BackupTimestamp(0, 5))).toEqual({
      $timestamp: '1970-01-01T00:00:00.000000005Z',
    });
    expect(encodeValue(new Uint8Array([0, 255, 1]))).toEqual({ $bytes: 'AP8B' });
    expect(encodeValue(new BackupGeoPoint(-33.9, 18.4))).toEqual({
      $geopoint: { latitude: -33.9, longitude: 18.4 },
    });
    expect(encodeValue(new BackupReference('providers/keepa'))).toEqual({
      $ref: 'providers/keepa',
    });
    expect(encodeValue(new BackupVector([1, 2.5]))).toEqual({ $vector: [1, 2.5] });
    expect(encodeValue(2n ** 62n)).toEqual({ $int: '4611686018427387904' });
    expect(encodeValue(Number.NaN)).toEqual({ $double: 'NaN' });
    expect(encodeValue(-0)).toEqual({ $double: '-0' });
    expect(encodeValue(Number.NEGATIVE_INFINITY)).toEqual({ $double: '-Infinity' });
    // A map that looks like a tag is wrapped, so it reads back as a map.
    expect(encodeValue({ $timestamp: 'not one' })).toEqual({ $map: { $timestamp: 'not one' } });
  });

  it('decodes what it encodes', () => {
    const value = {
      t: new BackupTimestamp(-62_135_596_800, 0),
      late: new BackupTimestamp(253_402_300_799, 999_999_999),
      bytes: new Uint8Array([1, 2, 3]),
      nested: { list: [{ x: -0 }, Number.POSITIVE_INFINITY, 2n], $only: { $map: 1 } },
      tagLike: { $ref: 'x' },
    };
    const issues: string[] = [];
    const decoded = decodeValue(JSON.parse(JSON.stringify(encodeValue(value))), 'v', issues);
    expect(issues).toEqual([]);
    expect(decoded).toEqual(value);
    expect(Object.is((decoded as { nested: { list: [{ x: number }] } }).nested.list[0].x, -0)).toBe(
      true,
    );
  });

  it('refuses what Firestore cannot store', () => {
    expect(() => encodeValue([[1]])).toThrow(/arrays directly in arrays/);
    expect(() => encodeValue({ __name__: 1 })).toThrow(/reserved/);
    expect(() => encodeValue(new Date() as never)).toThrow(/unsupported value/);
    expect(() => new BackupReference('providers')).toThrow(/even number of segments/);
    expect(() => new BackupTimestamp(0, 1e9)).toThrow(/nanoseconds/);
  });

  it('formats timestamps with nanoseconds and parses only that form', () => {
    const t = new BackupTimestamp(1_767_225_600, 120_000_000);
    expect(formatTimestamp(t)).toBe('2026-01-01T00:00:00.120000000Z');
    expect(parseTimestamp('2026-01-01T00:00:00.120000000Z')).toEqual(t);
    expect(parseTimestamp('2026-01-01T00:00:00.12Z')).toBeUndefined();
    expect(parseTimestamp('2026-02-30T00:00:00.000000000Z')).toBeUndefined();
    expect(parseTimestamp('0001-01-01T00:00:00.000000000Z')).toEqual(
      new BackupTimestamp(-62_135_596_800, 0),
    );
  });

  it('writes canonical JSON: sorted keys, no whitespace', () => {
    expect(canonicalJson({ b: [1, { d: 2, c: 'é' }], a: null })).toBe(
      '{"a":null,"b":[1,{"c":"é","d":2}]}',
    );
  });
});

describe('verifyBackup', () => {
  it('accepts what it wrote, as text, bytes or an object', () => {
    const file = sample();
    const text = serializeBackup(file);
    for (const input of [text, Buffer.from(text), JSON.parse(text), text.trimEnd()]) {
      const verified = verifyBackup(input);
      expect(verified.counts).toEqual({ providers: 1, cooldowns: 1, ingest: 1 });
      expect(verified.documents['cooldowns/keepa']!.until).toEqual(
        new BackupTimestamp(1_767_225_600, 123_456_789),
      );
      expect(verified.createdAt).toBe('2026-01-02T03:04:05.678Z');
    }
  });

  it('names a truncated file', () => {
    const text = serializeBackup(sample());
    for (const cut of [0, 1, 40, text.length - 2]) {
      expect(refusal(text.slice(0, cut)).kind).toBe('truncated');
    }
    // Cut inside a multi-byte character.
    const bytes = Buffer.from(
      serializeBackup(createBackup({ ...base(), documents: { 'a/b': { s: 'é' } } })),
    );
    const at = bytes.indexOf(0xc3);
    expect(refusal(bytes.subarray(0, at + 1)).kind).toBe('truncated');
  });

  it('names corrupt bytes and corrupt JSON', () => {
    const bytes = Buffer.from(serializeBackup(sample()));
    const invalidUtf8 = Buffer.from(bytes);
    invalidUtf8[10] = 0xff;
    expect(refusal(invalidUtf8).kind).toBe('corrupt');
    const text = bytes.toString();
    expect(refusal(text.replace(':', '#')).kind).toBe('corrupt');
    expect(refusal(`x${text}`).kind).toBe('corrupt');
  });

  it('names a wrong checksum and a tampered document', () => {
    const file = sample();
    const wrong = { ...file, checksum: `sha256:${'0'.repeat(64)}` };
    expect(refusal(serializeBackup(wrong)).kind).toBe('checksum');
    const tampered = structuredClone(file);
    (tampered.documents['providers/keepa'] as { cooldownSeconds: number }).cooldownSeconds = 1;
    const error = refusal(serializeBackup(tampered));
    expect(error.kind).toBe('checksum');
    expect(error.message).toMatch(/does not match its checksum/);
  });

  it('names a bad shape, with where', () => {
    const file = sample();
    expect(refusal({ ...file, format: 'other' }).message).toMatch(/format/);
    expect(refusal({ ...file, extra: 1 }).kind).toBe('shape');
    expect(refusal({ ...file, checksum: 'md5:abc' }).message).toMatch(/checksum/);
    expect(refusal([]).kind).toBe('shape');
    expect(refusal(42).kind).toBe('shape');
    expect(refusal({ ...file, version: 2 }).kind).toBe('version');
    // Valid checksum, invalid values: a hand-made file.
    const content = {
      format: 'tollgate-backup' as const,
      version: 1 as const,
      createdAt: file.createdAt,
      projectId: 'p',
      documents: {
        'providers/keepa': { at: { $timestamp: 'yesterday' }, nested: [[1]] },
        'odd/path/x': {},
      },
    };
    const error = refusal({ ...content, checksum: backupChecksum(content) });
    expect(error.kind).toBe('shape');
    expect(error.issues).toEqual([
      'documents["providers/keepa"].at: $timestamp is "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" within 0001..9999',
      'documents["providers/keepa"].nested[0]: Firestore has no arrays directly in arrays',
      'documents["odd/path/x"]: a document path has an even number of segments',
    ]);
  });

  it('refuses text changed without changing the content', () => {
    const text = serializeBackup(
      createBackup({ ...base(), documents: { 'a/b': { s: 'é', n: 1e21 } } }),
    );
    expect(refusal(text.replace('é', '\\u00e9')).kind).toBe('noncanonical');
    expect(refusal(text.replace('1e+21', '1E+21')).kind).toBe('noncanonical');
    expect(refusal(text.replace('{', '{ ')).kind).toBe('noncanonical');
    expect(
      verifyBackup(text.replace('é', '\\u00e9'), { requireCanonical: false }).documents,
    ).toEqual({ 'a/b': { s: 'é', n: 1e21 } });
  });
});

function base() {
  return { createdAt: CREATED_AT, projectId: 'demo-tollgate' };
}
