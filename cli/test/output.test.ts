import { describe, expect, it } from 'vitest';
import { time } from '../src/output.ts';

describe('time', () => {
  it('formats a time, and a dash for none or one no Date holds (never RangeError)', () => {
    expect(time(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(time(null)).toBe('-');
    expect(time(undefined)).toBe('-');
    // A collection with target 1e9 and 1 item in 7 h: its ETA is 2.5e16.
    expect(time(2.5e16)).toBe('-');
    expect(time(-8.64e15 - 1)).toBe('-');
    expect(time(Number.NaN)).toBe('-');
    expect(time(Number.POSITIVE_INFINITY)).toBe('-');
  });
});
