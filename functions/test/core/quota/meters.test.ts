import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../../src/core/quota/errors';
import { MeterProjection, shouldShare } from '../../../src/core/quota/meters';

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
    expect(meters.projected('keepa', 5_000)).toBe(-30);
    // Keepa runs a call while the balance is positive: blocked until it reaches 1.
    expect(meters.blockedUntil('keepa', 1, 1_000)).toBe(1_000 + Math.ceil((51 * 1000) / 5));
    expect(meters.blockedUntil('keepa', 1, 12_000)).toBeUndefined();
  });

  it('answers the same recovery time however close to it the question is asked', () => {
    const meters = new MeterProjection();
    meters.observe('keepa', keepa(-50, 1_796_326_808_268));
    const recovered = 1_796_326_808_268 + 10_200;
    for (const at of [recovered - 5_000, recovered - 10, recovered - 1]) {
      expect(meters.blockedUntil('keepa', 1, at)).toBe(recovered);
    }
    expect(meters.blockedUntil('keepa', 1, recovered)).toBeUndefined();
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

  it('adopts a newer report from elsewhere and applies again what it spent after it', () => {
    const meters = new MeterProjection();
    meters.observe('keepa', keepa(100, 1_000));
    meters.spend('keepa', 10, 2_000);
    meters.spend('keepa', 20, 4_000);
    // Another instance's report from 3 s: the 20 spent here at 4 s is not in it.
    expect(meters.observe('keepa', keepa(-50, 3_000))).toBe(true);
    expect(meters.projected('keepa', 4_000)).toBe(-50 + 5 - 20);
    // Older than the one adopted: ignored, although newer than this instance's last spend but one.
    expect(meters.observe('keepa', keepa(0, 2_500))).toBe(false);
    expect(meters.projected('keepa', 4_000)).toBe(-65);
  });

  it('counts spending made before the first report arrived, when it is newer than the report', () => {
    const meters = new MeterProjection();
    meters.spend('keepa', 30, 2_000);
    meters.spend('keepa', 7, 500);
    meters.observe('keepa', keepa(100, 1_000));
    expect(meters.projected('keepa', 2_000)).toBe(100 + 5 - 30);
  });

  it('keeps a bounded log of spending that never forgets any of it', () => {
    const meters = new MeterProjection();
    for (let i = 1; i <= 1_000; i++) meters.spend('keepa', 1, i);
    const log = (meters as unknown as { spends: Map<string, unknown[]> }).spends.get('keepa');
    expect(log!.length).toBeLessThanOrEqual(256);
    meters.observe('keepa', keepa(0, 0));
    expect(meters.projected('keepa', 1_000)).toBeCloseTo(5 - 1_000, 6);
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

describe('sharing a reading with the other instances', () => {
  const reading = (balance: number, atMs: number) => ({
    balance,
    atMs,
    ratePerSecond: 5,
    capacity: 300,
  });
  const policy = { nowMs: 100_000, intervalMs: 5_000, toleranceMs: 1_000 };

  it('writes a new deficit at once, however recent the last write', () => {
    expect(shouldShare(reading(-50, 100_000), undefined, policy)).toBe(true);
    expect(
      shouldShare(reading(-50, 100_000), reading(200, 99_900), { ...policy, lastWriteMs: 99_900 }),
    ).toBe(true);
    // Deeper than the shared deficit (ending 2 s later): news. Within the tolerance: not.
    expect(shouldShare(reading(-60, 100_000), reading(-50, 100_000 - 1), policy)).toBe(true);
    expect(shouldShare(reading(-54, 100_000), reading(-50, 99_999), policy)).toBe(false);
  });

  it('never replaces a newer or equally recent shared reading', () => {
    expect(shouldShare(reading(-100, 99_000), reading(200, 100_000), policy)).toBe(false);
    expect(shouldShare(reading(-100, 100_000), reading(200, 100_000), policy)).toBe(false);
  });

  it('writes a reading without a deficit only when it is the first in a while', () => {
    const shared = reading(200, 97_000);
    expect(shouldShare(reading(150, 100_000), shared, policy)).toBe(false); // shared is 3 s old
    expect(shouldShare(reading(150, 102_000), shared, { ...policy, nowMs: 102_000 })).toBe(true);
    // This instance wrote 1 s ago: not again so soon, whatever it saw since.
    expect(
      shouldShare(reading(150, 102_000), shared, {
        ...policy,
        nowMs: 102_000,
        lastWriteMs: 101_000,
      }),
    ).toBe(false);
    expect(shouldShare(reading(150, 100_000), undefined, policy)).toBe(true);
  });

  it('lets a shared deficit run out rather than lift it with a reading without one', () => {
    // -50 at 5/s from 99 s: in deficit until 109 s.
    expect(shouldShare(reading(300, 108_000), reading(-50, 99_000), policy)).toBe(false);
    expect(shouldShare(reading(300, 109_000), reading(-50, 99_000), policy)).toBe(true);
  });

  it('ignores readings nobody could project from', () => {
    expect(shouldShare({ ...reading(-50, 100_000), ratePerSecond: 0 }, undefined, policy)).toBe(
      false,
    );
    expect(shouldShare(reading(Number.NaN, 100_000), undefined, policy)).toBe(false);
  });
});
