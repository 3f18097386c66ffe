import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../../src/core/quota/errors';
import { MeterProjection } from '../../../src/core/quota/meters';

describe('upstream meters', () => {
  const keepa = (balance: number, atMs: number) => ({
    balance,
    atMs,
    ratePerSecond: 5,
    capacity: 300,
  });

  it('projects the reported balance forward and blocks calls while in deficit', () => {
    const meters = new MeterProjection();
    meters.observe('keepa', keepa(-50, 1_000));
    expect(meters.projected('keepa', 1_000)).toBe(-50);
    expect(meters.shouldCheckStatus('keepa', 5_000)).toBe(false); // -30: no status call
    // Keepa runs a call while the balance is positive: blocked until it reaches 1.
    expect(meters.blockedUntil('keepa', 1, 1_000)).toBe(1_000 + Math.ceil((51 * 1000) / 5));
    expect(meters.blockedUntil('keepa', 1, 12_000)).toBeUndefined();
    expect(meters.shouldCheckStatus('keepa', 11_000)).toBe(true);
  });

  it('never projects above capacity, and counts local spending between reports', () => {
    const meters = new MeterProjection();
    meters.observe('keepa', keepa(290, 0));
    expect(meters.projected('keepa', 3_600_000)).toBe(300);
    meters.spend('keepa', 100, 3_600_000);
    expect(meters.projected('keepa', 3_600_000)).toBe(200);
  });

  it('ignores a report older than the one it has', () => {
    const meters = new MeterProjection();
    meters.observe('keepa', keepa(100, 10_000));
    meters.observe('keepa', keepa(-200, 9_000));
    expect(meters.projected('keepa', 10_000)).toBe(100);
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:30 GMT', now)).toBe(90);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('announced rate limits', () => {
  it('records the latest valid rate per operation and returns the previous one', () => {
    const meters = new MeterProjection();
    expect(meters.observeRate('spapi', 'getReport', 2, 1)).toBeUndefined();
    expect(meters.observeRate('spapi', 'getReport', 0.5, 2)).toEqual({ ratePerSecond: 2, atMs: 1 });
    meters.observeRate('spapi', 'getReport', Number.NaN, 3);
    expect(meters.reportedRate('spapi', 'getReport')).toEqual({ ratePerSecond: 0.5, atMs: 2 });
    expect(meters.reportedRate('spapi', 'createReport')).toBeUndefined();
  });
});
