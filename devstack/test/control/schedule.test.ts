import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cron } from 'croner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCron } from '../../src/control/schedule.ts';
import {
  type Fire,
  fireScheduled,
  type ScheduledFunction,
  Scheduler,
  slotOf,
} from '../../src/control/scheduler.ts';
import { startControlServer } from '../../src/control/server.ts';

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
  const hits: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  let url = '';
  const server = createServer((req, res) => {
    hits.push({ url: req.url ?? '', headers: req.headers });
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
    expect(hits.slice(-2).map((h) => h.url)).toEqual([
      '/demo/us-central1/nightly',
      '/demo/us-central1/nightly-3',
    ]);
  });

  it('sends the headers Cloud Scheduler sends: the job name and the schedule time', async () => {
    const at = new Date('2026-05-01T18:00:00Z');
    await fireScheduled(url, 'demo', { name: 'nightly', region: 'us-central1' }, at);
    expect(hits.at(-1)?.headers).toMatchObject({
      'x-cloudscheduler-jobname': 'firebase-schedule-nightly-us-central1',
      'x-cloudscheduler-scheduletime': '2026-05-01T18:00:00.000Z',
    });
  });
});

const tick: ScheduledFunction = {
  name: 'tick',
  region: 'us-central1',
  schedule: '* * * * * *',
  timeZone: 'UTC',
  cron: '* * * * * *',
};

function recorder() {
  const fired: Array<{ name: string; scheduleTime: Date }> = [];
  const fire: Fire = async (fn, scheduleTime) => {
    fired.push({ name: fn.name, scheduleTime });
    return { status: 200, body: '' };
  };
  return { fired, fire };
}

describe('the scheduler', () => {
  it('fires on its cron expression, for the slot, and on demand, recording each run', async () => {
    const { fired, fire } = recorder();
    const scheduler = new Scheduler([tick], fire, () => undefined);
    scheduler.start();
    try {
      await expect.poll(() => fired.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
      // The slot a cron run is for is a whole second of this every-second cron.
      expect(fired[0]!.scheduleTime.getMilliseconds()).toBe(0);
      expect(scheduler.history[0]).toMatchObject({
        name: 'tick',
        trigger: 'cron',
        status: 200,
        scheduleTime: fired[0]!.scheduleTime.toISOString(),
      });
      const before = Date.now();
      await scheduler.fireNow('tick');
      expect(scheduler.history.at(-1)).toMatchObject({ trigger: 'manual' });
      expect(Date.parse(scheduler.history.at(-1)!.scheduleTime)).toBeGreaterThanOrEqual(before);
      await expect(scheduler.fireNow('nope')).rejects.toThrow(/no scheduled function/);
      expect(scheduler.nextRuns()[0]?.nextRun).toMatch(/^\d{4}-/);
    } finally {
      scheduler.stop();
    }
  });

  it('in manual mode fires only on demand, as of the time asked for', async () => {
    const { fired, fire } = recorder();
    const scheduler = new Scheduler([tick], fire, () => undefined, { mode: 'manual' });
    scheduler.start();
    try {
      await new Promise((r) => setTimeout(r, 2_200));
      expect(fired).toEqual([]);
      expect(scheduler.nextRuns()[0]?.nextRun).toBeNull();
      const at = new Date('2026-05-01T18:00:00Z');
      const record = await scheduler.fireNow('tick', { at });
      expect(fired).toEqual([{ name: 'tick', scheduleTime: at }]);
      expect(record).toMatchObject({ trigger: 'manual', scheduleTime: at.toISOString() });
      expect(scheduler.history).toEqual([record]);
    } finally {
      scheduler.stop();
    }
  });

  it('finds the slot a late cron run is for, in the job time zone', () => {
    const daily = new Cron('30 3 * * *', { timezone: 'UTC', paused: true });
    expect(slotOf(daily, new Date('2026-05-02T03:30:00.004Z'))).toEqual(
      new Date('2026-05-02T03:30:00Z'),
    );
    expect(slotOf(daily, new Date('2026-05-02T03:30:41Z'))).toEqual(
      new Date('2026-05-02T03:30:00Z'),
    );
    // Later than a minute: the firing time itself.
    expect(slotOf(daily, new Date('2026-05-02T03:45:00Z'))).toEqual(
      new Date('2026-05-02T03:45:00Z'),
    );
    const berlin = new Cron('0 6 * * *', { timezone: 'Europe/Berlin', paused: true });
    expect(slotOf(berlin, new Date('2026-05-02T04:00:02Z'))).toEqual(
      new Date('2026-05-02T04:00:00Z'),
    );
    daily.stop();
    berlin.stop();
  });
});

describe('the control server', () => {
  const { fired, fire } = recorder();
  const scheduler = new Scheduler([tick], fire, () => undefined, { mode: 'manual' });
  let server: Server;
  let control = '';
  beforeAll(async () => {
    server = await startControlServer(() => scheduler, '127.0.0.1', 0);
    control = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const post = (path: string, body?: string) =>
    fetch(`${control}${path}`, {
      method: 'POST',
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body }),
    });

  it('lists the mode and the schedules, and fires one now or as of a given time', async () => {
    const listed = await (await fetch(`${control}/schedules`)).json();
    expect(listed).toMatchObject({ mode: 'manual', schedules: [{ name: 'tick', nextRun: null }] });

    const before = Date.now();
    const now = await post('/schedules/tick/fire');
    expect(now.status).toBe(200);
    expect(Date.parse((await now.json()).scheduleTime)).toBeGreaterThanOrEqual(before);

    const asOf = await post('/schedules/tick/fire', '{"at":"2026-05-01T20:00:00+02:00"}');
    expect(asOf.status).toBe(200);
    expect(await asOf.json()).toMatchObject({ scheduleTime: '2026-05-01T18:00:00.000Z' });
    expect(fired.at(-1)?.scheduleTime).toEqual(new Date('2026-05-01T18:00:00Z'));
  });

  it('refuses a time it cannot read, and an unknown schedule', async () => {
    const count = fired.length;
    for (const body of ['{"at":"tomorrow"}', '{"at":"2026-05-01T18:00:00"}', 'not json']) {
      expect((await post('/schedules/tick/fire', body)).status, body).toBe(400);
    }
    expect(fired.length).toBe(count);
    expect((await post('/schedules/nope/fire')).status).toBe(404);
  });
});
