import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  classifyCommitError,
  DEFAULT_RETRY,
  increment,
  minuteKey,
  PendingWrites,
  usageStatsUpdate,
} from '../../src/core/storage/write-buffer';

describe('pending writes', () => {
  it('takes documents oldest first, at most max, skipping blocked ones', () => {
    const pending = new PendingWrites<string>();
    for (const path of ['d/1', 'd/2', 'd/3', 'd/1'])
      pending.add(path, new Map([['n', increment(1)]]), 1, path);
    expect(pending.documents).toBe(3);
    expect(pending.updates).toBe(4);
    const first = pending.take(2, (path) => path === 'd/2');
    expect(first.map((d) => d.path)).toEqual(['d/1', 'd/3']);
    expect(first[0]!.updates).toBe(2);
    expect(pending.updates).toBe(1);
    // A document taken for a batch is frozen: later updates start a new entry.
    pending.add('d/1', new Map([['n', increment(5)]]), 1, 'late');
    expect(first[0]!.waiters).toEqual(['d/1', 'd/1']);
    expect(pending.take(10).map((d) => d.path)).toEqual(['d/2', 'd/1']);
  });
});

describe('commit failures', () => {
  it('tells applied, ambiguous, transient and rejected commits apart', () => {
    expect(classifyCommitError({ code: 6 })).toBe('applied');
    expect(classifyCommitError({ code: 4 })).toBe('ambiguous');
    expect(classifyCommitError({ code: 14 })).toBe('ambiguous');
    expect(classifyCommitError(new Error('socket hang up'))).toBe('ambiguous');
    expect(classifyCommitError({ code: 10 })).toBe('transient');
    expect(classifyCommitError({ code: 8 })).toBe('transient');
    expect(classifyCommitError({ code: 3 })).toBe('rejected');
    expect(classifyCommitError({ code: 7 })).toBe('rejected');
  });

  it('backs off exponentially up to the cap, half of it jittered', () => {
    expect(backoffMs(DEFAULT_RETRY, 1, 0)).toBe(50);
    expect(backoffMs(DEFAULT_RETRY, 1, 0.999)).toBeLessThanOrEqual(100);
    expect(backoffMs(DEFAULT_RETRY, 3, 1)).toBe(400);
    expect(backoffMs(DEFAULT_RETRY, 30, 1)).toBe(DEFAULT_RETRY.maxBackoffMs);
  });
});

describe('usage statistics documents', () => {
  it('names one document per provider, category and UTC minute', () => {
    const at = Date.UTC(2024, 0, 2, 3, 4, 59, 999);
    expect(minuteKey(at)).toBe('202401020304');
    const { path, data } = usageStatsUpdate(
      { provider: 'keepa', category: 'deals', at, calls: 3, quota429: 1 },
      60_000,
    );
    expect(path).toBe('usageStats/keepa~deals~202401020304');
    expect(data).toMatchObject({
      provider: 'keepa',
      category: 'deals',
      minute: new Date(Date.UTC(2024, 0, 2, 3, 4)),
      expiresAt: new Date(Date.UTC(2024, 0, 2, 3, 5)),
      calls: { kind: 'increment', by: 3 },
      quota429: { kind: 'increment', by: 1 },
    });
    expect(data).not.toHaveProperty('granted');
  });

  it('rejects ids that would break the document id', () => {
    expect(() => usageStatsUpdate({ provider: 'a/b', category: 'c', at: 0 })).toThrow(TypeError);
    expect(() => usageStatsUpdate({ provider: 'a', category: 'c~d', at: 0 })).toThrow(TypeError);
  });
});
