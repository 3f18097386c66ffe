import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { adminEnqueue, type RelayRequest, TaskRelay } from '../../src/control/task-relay.ts';

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

describe('adminEnqueue', () => {
  it('enqueues on the Tasks emulator even when the process has only other, named apps', async () => {
    const received: Array<{ url: string; body: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const previous = process.env.CLOUD_TASKS_EMULATOR_HOST;
    process.env.CLOUD_TASKS_EMULATOR_HOST = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const other = initializeApp({ projectId: 'someone-else' }, 'someone-else');
    try {
      await adminEnqueue('demo-relay')({
        functionName: 'smartproxyWork',
        location: 'us-central1',
        data: { item: 1 },
        id: 'item-1',
        scheduleTime: new Date().toISOString(),
      });
      expect(received).toHaveLength(1);
      expect(received[0]?.url).toContain(
        '/projects/demo-relay/locations/us-central1/queues/smartproxyWork/tasks',
      );
    } finally {
      await deleteApp(other);
      process.env.CLOUD_TASKS_EMULATOR_HOST = previous;
      server.close();
    }
  });
});
