import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INLINE_MAX_BYTES,
  DEFAULT_PAYLOAD_CONFIG,
  DEFAULT_TEMPORARY_MAX_AGE_MS,
  expiredBeforeMs,
  FIRESTORE_MAX_DOCUMENT_BYTES,
  isExpired,
  isPayloadId,
  MAX_INLINE_BYTES,
  objectName,
  PayloadIdError,
  payloadBucketName,
  payloadConfigSchema,
  payloadOfObject,
  routePayload,
  withTotal,
} from '../../src/core/storage/payloads';

describe('payload configuration', () => {
  it('defaults to 256 KiB inline, payloads/ and tmp/, 24 hours for temporaries', () => {
    expect(DEFAULT_PAYLOAD_CONFIG).toEqual({
      inlineMaxBytes: 256 * 1024,
      objectPrefix: 'payloads/',
      temporaryPrefix: 'tmp/',
      temporaryMaxAgeMs: 24 * 60 * 60 * 1000,
    });
    expect(DEFAULT_INLINE_MAX_BYTES).toBe(262_144);
    expect(DEFAULT_TEMPORARY_MAX_AGE_MS).toBe(86_400_000);
  });

  it('keeps the inline threshold inside a Firestore document', () => {
    expect(MAX_INLINE_BYTES).toBeLessThan(FIRESTORE_MAX_DOCUMENT_BYTES);
    expect(payloadConfigSchema.safeParse({ inlineMaxBytes: MAX_INLINE_BYTES }).success).toBe(true);
    const tooBig = payloadConfigSchema.safeParse({ inlineMaxBytes: FIRESTORE_MAX_DOCUMENT_BYTES });
    expect(tooBig.success).toBe(false);
    expect(payloadConfigSchema.safeParse({ inlineMaxBytes: -1 }).success).toBe(false);
    expect(payloadConfigSchema.safeParse({ inlineMaxBytes: 1.5 }).success).toBe(false);
  });

  it('rejects prefixes that are not folders or that nest in each other', () => {
    for (const objectPrefix of ['payloads', '/payloads/', 'a//b/', '']) {
      expect(payloadConfigSchema.safeParse({ objectPrefix }).success).toBe(false);
    }
    expect(payloadConfigSchema.safeParse({ objectPrefix: 'data/payloads/' }).success).toBe(true);
    // The clean-up lists the temporary prefix; permanent objects must never lie under it.
    expect(payloadConfigSchema.safeParse({ objectPrefix: 'tmp/keep/' }).success).toBe(false);
    expect(payloadConfigSchema.safeParse({ temporaryPrefix: 'payloads/tmp/' }).success).toBe(false);
    expect(payloadConfigSchema.safeParse({ temporaryPrefix: 'payloads/' }).success).toBe(false);
  });
});

describe('routing', () => {
  const config = payloadConfigSchema.parse({ inlineMaxBytes: 100 });

  it('keeps payloads up to the threshold inline and sends larger ones to storage', () => {
    expect(routePayload(0, config)).toBe('inline');
    expect(routePayload(100, config)).toBe('inline');
    expect(routePayload(101, config)).toBe('storage');
    expect(routePayload(DEFAULT_INLINE_MAX_BYTES, DEFAULT_PAYLOAD_CONFIG)).toBe('inline');
    expect(routePayload(DEFAULT_INLINE_MAX_BYTES + 1, DEFAULT_PAYLOAD_CONFIG)).toBe('storage');
  });

  it('sends everything but empty payloads to storage with a zero threshold', () => {
    const zero = payloadConfigSchema.parse({ inlineMaxBytes: 0 });
    expect(routePayload(0, zero)).toBe('inline');
    expect(routePayload(1, zero)).toBe('storage');
  });
});

describe('object naming', () => {
  it('derives the object from the id, under the prefix for its kind', () => {
    expect(objectName('item-1', false, DEFAULT_PAYLOAD_CONFIG)).toBe('payloads/item-1');
    expect(objectName('item-1', true, DEFAULT_PAYLOAD_CONFIG)).toBe('tmp/item-1');
    const custom = payloadConfigSchema.parse({ objectPrefix: 'a/b/', temporaryPrefix: 't/' });
    expect(objectName('x', false, custom)).toBe('a/b/x');
    expect(objectName('x', true, custom)).toBe('t/x');
  });

  it('maps object names back to their payload', () => {
    expect(payloadOfObject('tmp/item-1', DEFAULT_PAYLOAD_CONFIG)).toEqual({
      id: 'item-1',
      temporary: true,
    });
    expect(payloadOfObject('payloads/a.b:c=d', DEFAULT_PAYLOAD_CONFIG)).toEqual({
      id: 'a.b:c=d',
      temporary: false,
    });
    expect(payloadOfObject('tmp/nested/x', DEFAULT_PAYLOAD_CONFIG)).toBeUndefined();
    expect(payloadOfObject('other/x', DEFAULT_PAYLOAD_CONFIG)).toBeUndefined();
    expect(payloadOfObject('tmp/', DEFAULT_PAYLOAD_CONFIG)).toBeUndefined();
  });

  it('accepts ids safe as document ids and object names, and rejects the rest', () => {
    for (const id of ['a', 'A-z_0.9:x=y', 'x'.repeat(500), '_x_'])
      expect(isPayloadId(id)).toBe(true);
    for (const id of ['', '.', '..', '__x__', 'a/b', 'a b', 'é', 'x'.repeat(501), 'a#b']) {
      expect(isPayloadId(id)).toBe(false);
    }
    expect(() => objectName('a/b', false, DEFAULT_PAYLOAD_CONFIG)).toThrow(PayloadIdError);
  });
});

describe('expiry', () => {
  const day = DEFAULT_TEMPORARY_MAX_AGE_MS;

  it('counts only payloads strictly older than the threshold as expired', () => {
    const now = Date.UTC(2024, 0, 2);
    expect(isExpired(now - day - 1, now, day)).toBe(true);
    expect(isExpired(now - day, now, day)).toBe(false);
    expect(isExpired(now, now, day)).toBe(false);
    expect(isExpired(now + 1000, now, day)).toBe(false);
  });

  it('agrees with the "created before" bound the document query uses', () => {
    const now = Date.UTC(2024, 0, 2);
    const before = expiredBeforeMs(now, day);
    for (const created of [before - 1, before, before + 1]) {
      expect(created < before).toBe(isExpired(created, now, day));
    }
  });
});

describe('bucket and stats', () => {
  it('takes the configured bucket, else the app default, else <project>.firebasestorage.app', () => {
    expect(payloadBucketName({ configured: 'mine', appDefault: 'app', project: 'p' })).toBe('mine');
    expect(
      payloadBucketName({ configured: ' ', appDefault: 'p.firebasestorage.app', project: 'p' }),
    ).toBe('p.firebasestorage.app');
    expect(payloadBucketName({ project: 'demo-x' })).toBe('demo-x.firebasestorage.app');
  });

  it('adds a total row', () => {
    expect(
      withTotal({ inline: { count: 2, bytes: 10 }, storage: { count: 1, bytes: 1000 } }),
    ).toEqual({
      inline: { count: 2, bytes: 10 },
      storage: { count: 1, bytes: 1000 },
      total: { count: 3, bytes: 1010 },
    });
  });
});
