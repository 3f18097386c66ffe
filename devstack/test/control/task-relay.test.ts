import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RelayRequest, TaskRelay } from '../../src/control/task-relay.ts';

describe('task relay', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  const request = (id: string | undefined, at: string): RelayRequest => ({
    functionName: 'work',
    location: 'us-central1',
    data: { payload: id },
    id,
    scheduleTime: at,
  });

  it('enqueues a held task when due, never before', async () => {
    const enqueued: Array<{ id?: string; at: number }> = [];
    const relay = new TaskRelay(
      async (r) => {
        enqueued.push({ id: r.id, at: Date.now() });
      },
      () => undefined,
    );
    expect(relay.hold(request('a', '2026-01-01T00:00:30Z'))).toBe(true);
    expect(relay.hold(request('b', '2026-01-01T00:00:10Z'))).toBe(true);
    expect(relay.hold(request(undefined, '2025-12-31T00:00:00Z'))).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(enqueued.map((e) => e.id)).toEqual([undefined]);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(enqueued).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(enqueued.at(-1)).toEqual({ id: 'b', at: Date.parse('2026-01-01T00:00:10Z') });
    expect(relay.list().map((r) => r.id)).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(enqueued.at(-1)).toEqual({ id: 'a', at: Date.parse('2026-01-01T00:00:30Z') });
    expect(relay.list()).toEqual([]);
  });

  it('deduplicates by id, like the emulator', () => {
    const relay = new TaskRelay(
      async () => undefined,
      () => undefined,
    );
    expect(relay.hold(request('same', '2026-01-01T00:01:00Z'))).toBe(true);
    expect(relay.hold(request('same', '2026-01-01T00:02:00Z'))).toBe(false);
    relay.stop();
  });

  it('re-arms waits longer than a timer can hold', async () => {
    const enqueued: number[] = [];
    const relay = new TaskRelay(
      async () => {
        enqueued.push(Date.now());
      },
      () => undefined,
    );
    const due = Date.parse('2026-02-15T00:00:00Z'); // 45 days: beyond 2^31-1 ms
    relay.hold(request('far', new Date(due).toISOString()));
    await vi.advanceTimersByTimeAsync(2 ** 31 - 1);
    expect(enqueued).toEqual([]);
    await vi.advanceTimersByTimeAsync(due - Date.now());
    expect(enqueued).toEqual([due]);
  });

  it('reports enqueue failures instead of throwing', async () => {
    const errors: unknown[] = [];
    const relay = new TaskRelay(
      async () => {
        throw new Error('emulator down');
      },
      (error) => errors.push(error),
    );
    relay.hold(request('x', '2026-01-01T00:00:01Z'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toHaveLength(1);
  });
});
