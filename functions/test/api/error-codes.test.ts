import { HttpsError } from 'firebase-functions/v2/https';
import { describe, expect, it } from 'vitest';
import { BackupError } from '../../src/core/backup/backup-file';
import { ConfigError } from '../../src/core/config';
import { ApiError } from '../../src/core/operations';
import { assertWithinLimits } from '../../src/core/storage/firestore-limits';
import { toHttpsError } from '../../src/entry/errors';
import { testFirestore } from '../support/firestore';
import { quietLogger } from '../support/quiet-logger';

/** One expected callable code per failure class, whatever throws it. */

quietLogger();

function codeOf(error: unknown): string {
  const mapped = toHttpsError(error);
  expect(mapped).toBeInstanceOf(HttpsError);
  return mapped.code;
}

describe('callable error codes by failure class', () => {
  it('maps each domain error to the code its class means', () => {
    expect(codeOf(new ApiError('not-found', 'x'))).toBe('not-found');
    expect(codeOf(new ApiError('aborted', 'x', { written: 1 }))).toBe('aborted');
    expect(codeOf(new ApiError('resource-exhausted', 'x'))).toBe('resource-exhausted');
    expect(codeOf(new ApiError('deadline-exceeded', 'x'))).toBe('deadline-exceeded');
    for (const kind of ['checksum', 'scope', 'config', 'shape'] as const) {
      expect(codeOf(new BackupError(kind, 'x'))).toBe('invalid-argument');
    }
    expect(codeOf(new ConfigError('categories/x', []))).toBe('failed-precondition');
  });

  it("a write production would refuse is the caller's error, naming document and field", () => {
    let thrown: unknown;
    try {
      assertWithinLimits('flags/x', { ok: { __bad__: 1 } });
    } catch (error) {
      thrown = error;
    }
    const mapped = toHttpsError(thrown);
    expect(mapped.code).toBe('invalid-argument');
    expect(mapped.details).toMatchObject({
      document: 'flags/x',
      issues: [{ path: 'ok.__bad__', message: expect.stringMatching(/reserved/) }],
    });
  });

  it('gRPC INVALID_ARGUMENT from Firestore is invalid-argument, not internal', async () => {
    const { db, close } = testFirestore();
    try {
      // Firestore itself refuses this write (the embedded emulator enforces production's limits).
      const error = await db
        .doc('limits/x')
        .set({ s: 'x'.repeat(1_048_488) })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((error as { code?: number }).code).toBe(3);
      expect(codeOf(error)).toBe('invalid-argument');
    } finally {
      await close();
    }
    // Retryable ones keep their codes; anything else stays internal (and logged).
    expect(codeOf(Object.assign(new Error('10 ABORTED'), { code: 10 }))).toBe('aborted');
    expect(codeOf(new Error('a bug'))).toBe('internal');
  });
});
