import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { FieldPath, type Firestore, Timestamp } from 'firebase-admin/firestore';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { installShutdownFlush } from '../../src/adapters/storage/shutdown-flush';
import { recordUsage } from '../../src/adapters/storage/usage-stats';
import { WriteBuffer } from '../../src/adapters/storage/write-buffer';
import {
  WriteBufferError,
  type WriteBufferOptions,
} from '../../src/adapters/storage/write-buffer-types';
import {
  addFieldOp,
  arrayUnion,
  type FieldOp,
  fieldSegments,
  increment,
  setTo,
} from '../../src/core/storage/write-buffer';
import { testFirestore } from '../support/firestore';
import { fieldOp } from './arbitraries';
import { grpcError, ManualTimers, recordBatches, ticks } from './support';

let db: Firestore;
let close: () => Promise<void>;
let timers: ManualTimers;
beforeEach(() => {
  ({ db, close } = testFirestore());
  timers = new ManualTimers();
});
afterEach(() => close());

const noWait = async () => {};
const bufferWith = (options: WriteBufferOptions = {}) =>
  new WriteBuffer(db, { timers, sleep: noWait, ...options });
const read = async (path: string) => (await db.doc(path).get()).data();
const settledState = (promise: Promise<unknown>) => {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
};

describe('write buffer against the Firestore emulator', () => {
  it('many concurrent callers on shared counters end exact, with far fewer writes', async () => {
    const buffer = bufferWith();
    const docs = 8;
    const workers = 40;
    const rounds = 25;
    const expected = new Map<string, number>();
    let running = workers;
    const worker = async (w: number) => {
      const promises: Promise<void>[] = [];
      for (let r = 0; r < rounds; r++) {
        const path = `counters/c${(w * 7 + r * 3) % docs}`;
        const by = 1 + ((w + r) % 3);
        expected.set(path, (expected.get(path) ?? 0) + by);
        promises.push(
          buffer.update(path, {
            n: increment(by),
            'stats.calls': increment(1),
            workers: arrayUnion(w),
          }),
        );
        if (r % 10 === 9) await promises.at(-1); // some callers wait for durability midway
        await ticks();
      }
      await Promise.all(promises);
      running--;
    };
    const all = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
    // The commit interval "elapses" every few turns of the event loop while callers run.
    while (running > 0) {
      await ticks(5);
      timers.fireAll();
    }
    await all;
    await buffer.flush();

    const stats = buffer.stats();
    expect(stats.updatesReceived).toBe(workers * rounds);
    expect(stats.updatesCommitted).toBe(workers * rounds);
    expect(stats.pendingDocuments).toBe(0);
    expect(stats.documentWrites * 5).toBeLessThan(stats.updatesReceived);
    let calls = 0;
    for (const [path, n] of expected) {
      const data = (await read(path))!;
      expect(data.n).toBe(n);
      calls += data.stats.calls;
      expect(new Set(data.workers).size).toBe(data.workers.length);
    }
    expect(calls).toBe(workers * rounds);
  });

  it('resolves a caller only after its batch committed, and the data is then readable', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const order: string[] = [];
    const buffer = bufferWith({
      commit: async (batch) => {
        await gate;
        await batch.commit();
        order.push('committed');
      },
    });
    const write = buffer.update('things/a', { name: 'a', n: increment(2) });
    const state = settledState(write.then(() => order.push('resolved')));
    timers.fireAll();
    await ticks(20);
    expect(state.settled).toBe(false);
    expect(buffer.stats()).toMatchObject({ inFlightBatches: 1, pendingDocuments: 0 });
    expect(await read('things/a')).toBeUndefined();
    open();
    await write;
    expect(await read('things/a')).toEqual({ name: 'a', n: 2 });
    expect(order).toEqual(['committed', 'resolved']);
  });

  it('writes only the fields it was given: other fields and nested maps stay', async () => {
    await db.doc('things/b').set({ keep: 'x', stats: { calls: 1, other: true } });
    const buffer = bufferWith();
    const done = Promise.all([
      buffer.update('things/b', { 'stats.calls': increment(4) }),
      buffer.merge('things/b', { stats: { tags: arrayUnion('t') }, fresh: 1 }),
    ]);
    await buffer.flush();
    await done;
    expect(await read('things/b')).toEqual({
      keep: 'x',
      fresh: 1,
      stats: { calls: 5, other: true, tags: ['t'] },
    });
    expect(buffer.stats().documentWrites).toBe(1);
  });

  it('flushes on SIGTERM, then re-raises the signal once no other listener is left', async () => {
    const buffer = bufferWith();
    const killed = new Promise<string>((resolve) => {
      const target = Object.assign(new EventEmitter(), {
        pid: 4242,
        kill: (_pid: number, signal: string) => resolve(signal),
      });
      installShutdownFlush(buffer, { target });
      void buffer.update('things/c', { n: increment(1) });
      void buffer.update('things/d', { n: increment(1) });
      expect(timers.count).toBe(1); // nothing committed yet: only the interval is pending
      target.emit('SIGTERM');
    });
    expect(await killed).toBe('SIGTERM');
    expect(await read('things/c')).toEqual({ n: 1 });
    expect(await read('things/d')).toEqual({ n: 1 });
  });

  it('leaves ending the process to another SIGTERM listener if there is one', async () => {
    const buffer = bufferWith();
    const kill = vi.fn();
    const target = Object.assign(new EventEmitter(), { pid: 1, kill });
    const other = vi.fn();
    target.on('SIGTERM', other);
    installShutdownFlush(buffer, { target });
    const write = buffer.update('things/e', { n: increment(1) });
    target.emit('SIGTERM');
    await write;
    await ticks(5);
    expect(other).toHaveBeenCalled();
    expect(kill).not.toHaveBeenCalled();
    expect(target.listenerCount('SIGTERM')).toBe(1);
  });

  it('retries a commit that failed after it was applied without applying increments twice', async () => {
    let failed = false;
    const buffer = bufferWith({
      commit: async (batch) => {
        await batch.commit();
        if (!failed) {
          failed = true;
          throw grpcError(4, '4 DEADLINE_EXCEEDED: Deadline exceeded');
        }
      },
    });
    const writes = [
      buffer.update('counters/x', { n: increment(3) }),
      buffer.update('counters/x', { n: increment(4), tags: arrayUnion('a') }),
      buffer.update('counters/y', { n: increment(1) }),
    ];
    await buffer.flush();
    await Promise.all(writes);
    expect(await read('counters/x')).toEqual({ n: 7, tags: ['a'] });
    expect(await read('counters/y')).toEqual({ n: 1 });
    expect(buffer.stats()).toMatchObject({ retries: 1, recoveredCommits: 1, batchesCommitted: 1 });
  });

  it('retries a commit that failed before it was applied, and applies it once', async () => {
    let attempts = 0;
    const buffer = bufferWith({
      commit: async (batch) => {
        if (++attempts < 3) throw grpcError(14, '14 UNAVAILABLE: connection reset');
        await batch.commit();
      },
    });
    const write = buffer.update('counters/z', { n: increment(2) });
    await buffer.flush();
    await write;
    expect(await read('counters/z')).toEqual({ n: 2 });
    expect(buffer.stats()).toMatchObject({ retries: 2, recoveredCommits: 0 });
  });

  it('when retries run out, the marker still proves a batch that was applied', async () => {
    let attempts = 0;
    const buffer = bufferWith({
      retry: { maxAttempts: 3 },
      commit: async (batch) => {
        if (++attempts === 1) await batch.commit();
        throw grpcError(14, '14 UNAVAILABLE');
      },
    });
    const write = buffer.update('counters/w', { n: increment(5) });
    await buffer.flush();
    await write;
    expect(attempts).toBe(3);
    expect(await read('counters/w')).toEqual({ n: 5 });
    expect(buffer.stats()).toMatchObject({ recoveredCommits: 1, batchesFailed: 0 });
  });

  it('rejects the callers once retries run out, saying whether the batch may be applied', async () => {
    const buffer = bufferWith({
      retry: { maxAttempts: 2 },
      commit: async () => {
        throw grpcError(10, '10 ABORTED');
      },
    });
    const first = buffer.update('counters/v', { n: increment(1) });
    await buffer.flush();
    const error = await first.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriteBufferError);
    expect(error).toMatchObject({ outcome: 'not-applied', code: 10 });

    const ambiguous = bufferWith({
      retry: { maxAttempts: 2 },
      commit: async () => {
        throw grpcError(4, '4 DEADLINE_EXCEEDED');
      },
    });
    const second = ambiguous.update('counters/v', { n: increment(1) });
    await ambiguous.flush();
    expect(await second.catch((e: unknown) => e)).toMatchObject({ outcome: 'unknown', code: 4 });
    expect(await read('counters/v')).toBeUndefined();
    expect(ambiguous.stats()).toMatchObject({ batchesFailed: 1, updatesFailed: 1 });
  });

  it('isolates a document Firestore rejects: only its callers fail', async () => {
    const batches = recordBatches(db);
    const buffer = bufferWith({
      commit: async (batch) => {
        if (batches.get(batch)!.some((p) => p.endsWith('/poison'))) {
          throw grpcError(3, '3 INVALID_ARGUMENT: too big');
        }
        await batch.commit();
      },
    });
    const paths = ['p/a', 'p/b', 'p/poison', 'p/c', 'p/d', 'p/e'];
    const writes = paths.map((path) => buffer.update(path, { n: increment(1) }));
    await buffer.flush();
    const results = await Promise.allSettled(writes);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ outcome: 'not-applied' });
    for (const path of paths.filter((p) => !p.endsWith('poison'))) {
      expect(await read(path)).toEqual({ n: 1 });
    }
  });

  it('rejects an update with a value Firestore cannot store without failing others', async () => {
    const buffer = bufferWith();
    class Opaque {}
    const bad = buffer.update('things/f', { v: new Opaque() });
    const empty = buffer.update('things/f', { v: undefined });
    const good = buffer.update('things/f', { n: increment(1) });
    await expect(bad).rejects.toThrow();
    await expect(empty).rejects.toThrow(/empty update/);
    await buffer.flush();
    await good;
    expect(await read('things/f')).toEqual({ n: 1 });
  });

  it('never commits more than 500 writes in one batch, the marker included', async () => {
    const batches = recordBatches(db);
    const sizes: number[] = [];
    const buffer = bufferWith({
      commit: async (batch) => {
        sizes.push(batches.get(batch)!.length);
        await batch.commit();
      },
    });
    const writes = Array.from({ length: 1300 }, (_, i) =>
      buffer.update(`many/d${i}`, { n: increment(1) }),
    );
    // The buffer fills twice and commits without waiting for the interval.
    expect(buffer.stats().inFlightBatches).toBe(2);
    await buffer.flush();
    await Promise.all(writes);
    expect(sizes).toEqual([500, 500, 303]);
    expect((await db.collection('many').count().get()).data().count).toBe(1300);
    expect((await db.collection('writeBatches').count().get()).data().count).toBe(3);
    const marker = (await db.collection('writeBatches').limit(1).get()).docs[0]!.data();
    expect(marker.expiresAt).toBeInstanceOf(Timestamp);
  });

  it('keeps writes to a document in order while an earlier batch is still committing', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let first = true;
    const buffer = bufferWith({
      commit: async (batch) => {
        if (first) {
          first = false;
          await gate;
        }
        await batch.commit();
      },
    });
    const a = buffer.update('order/x', { v: setTo('first'), n: increment(1) });
    timers.fireAll();
    const b = buffer.update('order/x', { v: setTo('second'), n: increment(1) });
    const c = buffer.update('order/y', { v: 'other' });
    timers.fireAll();
    await c; // another document is not held up
    expect(buffer.stats()).toMatchObject({ pendingDocuments: 1, inFlightDocuments: 1 });
    open();
    await buffer.flush();
    await Promise.all([a, b]);
    expect(await read('order/x')).toEqual({ v: 'second', n: 2 });
  });

  it('reports committed writes to listeners and waits the throttled interval', async () => {
    const seen: number[] = [];
    const buffer = bufferWith({ intervalMs: 100, throttle: (ms) => ms * 3 });
    buffer.onCommit((info) => seen.push(info.writes));
    const write = buffer.update('l/a', { n: increment(1) });
    void buffer.update('l/b', { n: increment(1) });
    expect(timers.delays).toEqual([300]);
    timers.fireAll();
    await write;
    expect(seen).toEqual([3]);
  });

  it('records per-minute usage statistics through the buffer', async () => {
    const buffer = bufferWith();
    const at = Date.UTC(2024, 4, 6, 7, 8, 9);
    const writes = [
      recordUsage(buffer, { provider: 'keepa', category: 'deals', at, granted: 2, calls: 2 }),
      recordUsage(buffer, {
        provider: 'keepa',
        category: 'deals',
        at: at + 30_000,
        deferred: 1,
        calls: 1,
      }),
      recordUsage(buffer, { provider: 'keepa', category: 'deals', at: at + 60_000, quota429: 1 }),
    ];
    await buffer.flush();
    await Promise.all(writes);
    const data = (await read('usageStats/keepa~deals~202405060708'))!;
    expect(data).toMatchObject({
      provider: 'keepa',
      category: 'deals',
      granted: 2,
      deferred: 1,
      calls: 3,
    });
    expect((data.minute as Timestamp).toMillis()).toBe(Date.UTC(2024, 4, 6, 7, 8));
    expect(data.expiresAt).toBeInstanceOf(Timestamp);
    expect(await read('usageStats/keepa~deals~202405060709')).toMatchObject({ quota429: 1 });
    expect(buffer.stats().documentWrites).toBe(2);
  });

  it('coalesced writes leave the same document as the updates applied one by one (property)', async () => {
    const paths = ['a', 'b', 'a.x', 'a.y', 'a.x.z'];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...paths), fieldOp), { minLength: 1, maxLength: 8 }),
        async (updates) => {
          run++;
          const buffer = bufferWith();
          const writes = updates.map(([path, op]) =>
            buffer.update(`prop/buffered${run}`, { [path]: op }),
          );
          for (const [path, op] of updates) await directWrite(`prop/direct${run}`, path, op);
          await buffer.flush();
          await Promise.all(writes);
          expect(await read(`prop/buffered${run}`)).toEqual(await read(`prop/direct${run}`));
          expect(buffer.stats().documentWrites).toBe(1);
        },
      ),
      { numRuns: 40 },
    );
  });
});

/** One op as its own Firestore write, the way a caller without the buffer would do it. */
async function directWrite(doc: string, path: string, op: FieldOp): Promise<void> {
  const fields = new Map<string, FieldOp>();
  addFieldOp(fields, path, op);
  const { FieldValue } = await import('firebase-admin/firestore');
  const segments = fieldSegments(path);
  const data: Record<string, unknown> = {};
  let target = data;
  for (const s of segments.slice(0, -1)) target = target[s] = {} as Record<string, unknown>;
  target[segments.at(-1)!] =
    op.kind === 'set'
      ? op.value
      : op.kind === 'increment'
        ? FieldValue.increment(op.by)
        : FieldValue.arrayUnion(...op.elements);
  await db.doc(doc).set(data, { mergeFields: [new FieldPath(...segments)] });
}
