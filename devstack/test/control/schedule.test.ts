import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCron } from '../../src/control/schedule.ts';
import { fireScheduled, Scheduler } from '../../src/control/scheduler.ts';

describe('schedule expressions', () => {
  it.each([
    ['every 5 minutes', '*/5 * * * *'],
    ['every 1 minutes', '*/1 * * * *'],
    ['every 60 minutes', '0 * * * *'],
    ['every 6 hours', '0 */6 * * *'],
    ['every day 06:00', '0 6 * * *'],
    ['0 0,12 * * *', '0 0,12 * * *'],
  ])('%s -> %s', (schedule, cron) => expect(toCron(schedule)).toBe(cron));

  it('rejects intervals Cloud Scheduler cannot express as cron here', () => {
    expect(() => toCron('every 7 minutes')).toThrow(/unsupported/);
  });
});

describe('firing scheduled functions', () => {
  const hits: string[] = [];
  let url = '';
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    // Mimics the Functions emulator: event-style triggers carry a generation suffix.
    if (req.url === '/demo/us-central1/nightly-3') return res.writeHead(204).end();
    res
      .writeHead(404)
      .end(
        'Function us-central1-nightly does not exist, valid functions are: us-central1-health, us-central1-nightly-2, us-central1-nightly-3',
      );
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('resolves the emulator trigger name with the newest generation', async () => {
    const result = await fireScheduled(url, 'demo', { name: 'nightly', region: 'us-central1' });
    expect(result.status).toBe(204);
    expect(hits.slice(-2)).toEqual(['/demo/us-central1/nightly', '/demo/us-central1/nightly-3']);
  });

  it('fires on its cron expression and on demand, recording each run', async () => {
    const fired: string[] = [];
    const scheduler = new Scheduler(
      [
        {
          name: 'tick',
          region: 'us-central1',
          schedule: '* * * * * *',
          timeZone: 'UTC',
          cron: '* * * * * *',
        },
      ],
      async (fn) => {
        fired.push(fn.name);
        return { status: 200, body: '' };
      },
      () => undefined,
    );
    scheduler.start();
    try {
      await expect.poll(() => fired.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
      expect(scheduler.history[0]).toMatchObject({ name: 'tick', trigger: 'cron', status: 200 });
      await scheduler.fireNow('tick');
      expect(scheduler.history.at(-1)).toMatchObject({ trigger: 'manual' });
      await expect(scheduler.fireNow('nope')).rejects.toThrow(/no scheduled function/);
      expect(scheduler.nextRuns()[0]?.nextRun).toMatch(/^\d{4}-/);
    } finally {
      scheduler.stop();
    }
  });
});
