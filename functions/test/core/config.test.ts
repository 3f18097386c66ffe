import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  categorySchema,
  flagsSchema,
  parseDocument,
  providerSchema,
  validateRuntimeConfig,
} from '../../src/core/config';

const keepa = {
  id: 'keepa',
  limits: [{ kind: 'tokenBucket', capacity: 300, refillPerSecond: 5, burstThreshold: 280 }],
};

function issuesOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('runtime configuration', () => {
  it('applies defaults', () => {
    const provider = parseDocument(providerSchema, 'providers/keepa', keepa);
    expect(provider.cooldownSeconds).toBe(1800);
    expect(provider.limits[0]).toMatchObject({ allowNegative: false });
    expect(parseDocument(flagsSchema, 'config/flags', {})).toEqual({
      maintenance: false,
      maxAwaitSeconds: 60,
      dailyAuditEnabled: true,
      weeklyAuditEnabled: false,
    });
  });

  it.each([
    [{ ...keepa, limits: [] }, 'limits'],
    [
      { ...keepa, limits: [{ kind: 'tokenBucket', capacity: -5, refillPerSecond: 1 }] },
      'limits[0].capacity',
    ],
    [{ ...keepa, limits: [{ kind: 'window', unit: 'week', limit: 5 }] }, 'limits[0].unit'],
    [{ ...keepa, limits: [{ kind: 'teapot' }] }, 'limits[0].kind'],
    [{ ...keepa, id: 'Keepa!' }, 'id'],
    [{ ...keepa, baseUrl: 'not a url' }, 'baseUrl'],
    // Shapes the engine could only serve by spinning: a claim per token on a fast bucket...
    [
      {
        ...keepa,
        limits: [{ kind: 'tokenBucket', capacity: 1e6, refillPerSecond: 1e6, blockTokens: 1 }],
      },
      'limits[0].blockTokens',
    ],
    [
      {
        ...keepa,
        limits: [
          { kind: 'operation', operation: 'x', ratePerSecond: 5000, burst: 10, blockTokens: 4 },
        ],
      },
      'limits[0].blockTokens',
    ],
    [
      { ...keepa, limits: [{ kind: 'window', unit: 'month', limit: 5e10, blockTokens: 1000 }] },
      'limits[0].blockTokens',
    ],
    // ...a margin whose refill swallows a bucket (found by a review: every call refused)...
    [
      {
        ...keepa,
        safetyMarginMs: 100,
        limits: [{ kind: 'tokenBucket', capacity: 10, refillPerSecond: 100 }],
      },
      'limits[0].capacity',
    ],
    [
      {
        ...keepa,
        limits: [{ kind: 'operation', operation: 'createReport', ratePerSecond: 0.0167, burst: 2 }],
      },
      'limits[0].burst',
    ],
    // ...and a margin that guards away a whole window.
    [
      {
        ...keepa,
        safetyMarginMs: 1000,
        limits: [{ kind: 'window', unit: 'second', limit: 10 }],
      },
      'safetyMarginMs',
    ],
  ])('rejects a bad provider naming the field (%#)', (data, path) => {
    const error = issuesOf(() => parseDocument(providerSchema, 'providers/keepa', data));
    expect(error.document).toBe('providers/keepa');
    expect(error.issues.map((i) => i.path)).toContain(path);
    expect(error.message).toContain(`providers/keepa: ${path}:`.replace('providers/keepa: ', ''));
  });

  it('accepts the largest margin and the smallest blocks that leave the engine room', () => {
    const provider = parseDocument(providerSchema, 'providers/fast', {
      id: 'fast',
      safetyMarginMs: 999,
      limits: [
        { kind: 'tokenBucket', capacity: 1e6, refillPerSecond: 1e6, blockTokens: 1000 },
        { kind: 'window', unit: 'second', limit: 10, blockTokens: 1 },
        { kind: 'window', unit: 'month', limit: 5e10, blockTokens: 5e6 },
      ],
    });
    expect(provider.safetyMarginMs).toBe(999);
  });

  it('rejects categories whose shares exceed 100% or whose provider is unknown', () => {
    const provider = parseDocument(providerSchema, 'providers/keepa', keepa);
    const category = (id: string, sharePercent: number, p = 'keepa') =>
      parseDocument(categorySchema, `categories/${id}`, { id, provider: p, sharePercent });
    const flags = parseDocument(flagsSchema, 'config/flags', {});
    expect(
      issuesOf(() =>
        validateRuntimeConfig({
          providers: [provider],
          categories: [category('a', 60), category('b', 50)],
          flags,
        }),
      ).issues[0]?.path,
    ).toBe('sharePercent');
    expect(
      issuesOf(() =>
        validateRuntimeConfig({
          providers: [provider],
          categories: [category('a', 10, 'nope')],
          flags,
        }),
      ).message,
    ).toContain('unknown provider "nope"');
    expect(
      validateRuntimeConfig({
        providers: [provider],
        categories: [category('a', 60), category('b', 40)],
        flags,
      }).categories,
    ).toHaveLength(2);
  });
});
