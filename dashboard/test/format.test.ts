import { maxSharePercent } from '@tollgate/client';
import { describe, expect, it } from 'vitest';
import { parseTargets } from '../src/collections.tsx';
import { isLoopbackHost, linkCredentials, parseEmulators } from '../src/firebase.ts';
import {
  fmtDuration,
  fmtTime,
  forecastWindow,
  maxShareFor,
  parseShare,
  refusalOf,
  windowResetAt,
} from '../src/format.ts';
import { parseHash } from '../src/hooks.ts';

describe('dashboard helpers', () => {
  it('caps a share so that the provider stays within 100%', () => {
    const cat = (id: string, provider: string, share: number, extra = {}) => ({
      id,
      provider,
      configuredSharePercent: share,
      pausedFlag: false,
      overridePercent: null as number | null,
      ...extra,
    });
    const cats = [cat('a', 'p', 60), cat('b', 'p', 15), cat('c', 'q', 90)];
    expect(maxShareFor(cats, 'b')).toBe(40);
    expect(maxShareFor(cats, 'a')).toBe(85);
    expect(maxShareFor(cats, 'c')).toBe(100);
    expect(maxShareFor(cats, 'missing')).toBe(0);
  });

  it("caps a share by the server's rule: pins count their override, paused flags nothing", () => {
    const cat = (id: string, share: number, extra = {}) => ({
      id,
      provider: 'p',
      configuredSharePercent: share,
      pausedFlag: false,
      overridePercent: null as number | null,
      ...extra,
    });
    // Share 20 pinned at 50: it counts 50, the other may have 50.
    expect(maxShareFor([cat('pinned', 20, { overridePercent: 50 }), cat('x', 10)], 'x')).toBe(50);
    // A pin below the share counts the share.
    expect(maxShareFor([cat('pinned', 70, { overridePercent: 10 }), cat('x', 10)], 'x')).toBe(30);
    // The paused flag frees the share entirely.
    expect(maxShareFor([cat('off', 80, { pausedFlag: true }), cat('x', 10)], 'x')).toBe(100);
    // Rounded down to 0.01, never up past the rule.
    expect(maxShareFor([cat('o', 33.3351), cat('x', 10)], 'x')).toBe(66.66);
    expect(
      maxSharePercent(
        [
          { id: 'o', provider: 'p', paused: false, sharePercent: 33.3351, overridePercent: null },
          { id: 'x', provider: 'p', paused: false, sharePercent: 1, overridePercent: null },
        ],
        'x',
      ),
    ).toBe(66.66);
    // Float noise of exact sums does not cost a hundredth.
    expect(maxShareFor([cat('o', 70.1), cat('x', 1)], 'x')).toBe(29.9);
  });

  it('parses the hash route, keeping a malformed segment as typed', () => {
    expect(parseHash('')).toEqual([]);
    expect(parseHash('#/')).toEqual([]);
    expect(parseHash('#/collections/deals%20de')).toEqual(['collections', 'deals de']);
    expect(parseHash('#/collections/%E0%A4%A')).toEqual(['collections', '%E0%A4%A']);
    expect(parseHash('#collections/a/')).toEqual(['collections', 'a']);
  });

  it('accepts only a finite number as a share (an empty box is not 0)', () => {
    expect(parseShare('')).toBeNull();
    expect(parseShare('  ')).toBeNull();
    expect(parseShare('abc')).toBeNull();
    expect(parseShare('Infinity')).toBeNull();
    expect(parseShare('0')).toBe(0);
    expect(parseShare(' 12.5 ')).toBe(12.5);
    for (const text of ['0x32', '0b110010', '1e1', '-5', '50%', '.', '1.2.3']) {
      expect(parseShare(text), text).toBeNull();
    }
    expect(parseShare('.5')).toBe(0.5);
    expect(parseShare('5.')).toBe(5);
  });

  it('formats times beyond what a Date holds as a dash', () => {
    expect(fmtTime(2.5e16)).toBe('—');
    expect(fmtTime(-8.64e15 - 1)).toBe('—');
    expect(fmtTime(Number.NaN)).toBe('—');
    expect(fmtTime(Number.POSITIVE_INFINITY)).toBe('—');
    expect(fmtTime(null)).toBe('—');
    expect(fmtTime(0)).toBe('1970-01-01 00:00:00');
  });

  it('shows a refusal with its fields, from the client and from the function', () => {
    expect(
      refusalOf({
        code: 'invalid-argument',
        message: 'startCollection: invalid input: id: bad',
        issues: [{ path: 'id', message: 'bad' }],
      }),
    ).toEqual({
      code: 'invalid-argument',
      message: 'startCollection: invalid input: id: bad',
      issues: [{ path: 'id', message: 'bad' }],
    });
    expect(
      refusalOf({
        code: 'functions/failed-precondition',
        message: 'over 100%',
        details: { issues: [{ path: 'sharePercent', message: 'too high' }] },
      }),
    ).toEqual({
      code: 'failed-precondition',
      message: 'over 100%',
      issues: [{ path: 'sharePercent', message: 'too high' }],
    });
  });

  it('forecasts a window against its reset', () => {
    const now = Date.UTC(2026, 11, 6, 12, 0, 30);
    expect(windowResetAt('minute', now)).toBe(Date.UTC(2026, 11, 6, 12, 1, 0));
    expect(windowResetAt('month', now)).toBe(Date.UTC(2027, 0, 1));
    const limit = { kind: 'window', unit: 'minute', limit: 60, measure: 'requests' } as const;
    expect(forecastWindow(limit, 0.5, now)).toMatchObject({ runsOutFirst: false });
    expect(forecastWindow(limit, 5, now)).toMatchObject({ runsOutFirst: true });
    expect(forecastWindow({ kind: 'concurrency', max: 3 }, 1, now)).toBeNull();
  });

  it('formats durations, parses targets, finds the emulators', () => {
    expect(fmtDuration(59_400)).toBe('59 s');
    expect(fmtDuration(61_000)).toBe('1 min 1 s');
    expect(parseTargets('takealot=200, makro = 100')).toEqual({ takealot: 200, makro: 100 });
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('tollgate.web.app')).toBe(false);
    const js = `var firebaseConfig = {};\nvar firebaseEmulators = {\n  "auth": {\n    "host": "127.0.0.1",\n    "port": 9099,\n    "hostAndPort": "127.0.0.1:9099"\n  },\n  "functions": {\n    "host": "127.0.0.1",\n    "port": 5001,\n    "hostAndPort": "127.0.0.1:5001"\n  }\n};\nif (x) {}`;
    expect(parseEmulators(js)).toEqual({
      auth: { host: '127.0.0.1', port: 9099 },
      functions: { host: '127.0.0.1', port: 5001 },
    });
    expect(parseEmulators('var firebaseEmulators = undefined;')).toBeNull();
  });

  it('honours the sign-in link only when connected to the Auth emulator', () => {
    const emulators = {
      auth: { host: '127.0.0.1', port: 9099 },
      functions: { host: '127.0.0.1', port: 5001 },
    };
    const hash = '#signin=demo-operator%40tollgate.local&password=tollgate-local';
    expect(linkCredentials(hash, emulators)).toEqual({
      email: 'demo-operator@tollgate.local',
      password: 'tollgate-local',
    });
    expect(linkCredentials(hash, null)).toBeNull();
    expect(linkCredentials('#/collections', emulators)).toBeNull();
    expect(linkCredentials('#signin=someone', emulators)).toBeNull();
  });
});
