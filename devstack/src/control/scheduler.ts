import { createRequire } from 'node:module';
import { Cron } from 'croner';
import { toCron } from './schedule.ts';

export interface ScheduledFunction {
  name: string;
  region: string;
  schedule: string;
  timeZone: string;
  cron: string;
}

interface Endpoint {
  region?: string[];
  scheduleTrigger?: { schedule: string; timeZone?: string | null };
}

/** Reads the onSchedule functions, with their cron and time zone, from the built functions. */
export function discoverSchedules(functionsMain: string): ScheduledFunction[] {
  const exports = createRequire(import.meta.url)(functionsMain) as Record<
    string,
    { __endpoint?: Endpoint }
  >;
  return Object.entries(exports).flatMap(([name, fn]) => {
    const trigger = fn?.__endpoint?.scheduleTrigger;
    if (!trigger) return [];
    return [
      {
        name,
        region: fn.__endpoint?.region?.[0] ?? 'us-central1',
        schedule: trigger.schedule,
        timeZone: trigger.timeZone ?? 'UTC',
        cron: toCron(trigger.schedule),
      },
    ];
  });
}

/**
 * The job name Firebase gives a scheduled function's Cloud Scheduler job (firebase-tools:
 * `firebase-schedule-<function>-<region>`), sent as Cloud Scheduler sends it.
 */
export function schedulerJobName(fn: Pick<ScheduledFunction, 'name' | 'region'>): string {
  return `firebase-schedule-${fn.name}-${fn.region}`;
}

/**
 * POSTs to a scheduled function's trigger on the Functions emulator, with the headers Cloud
 * Scheduler sends an HTTP target: the job name and the time the execution is scheduled for
 * (`X-CloudScheduler-ScheduleTime`, RFC 3339), which firebase-functions hands the handler as
 * `event.scheduleTime`. The emulator names event-style triggers `<name>-<generation>` (the
 * generation grows on hot reload), so an unknown name is resolved against the list the
 * emulator answers with.
 */
export async function fireScheduled(
  functionsUrl: string,
  projectId: string,
  fn: Pick<ScheduledFunction, 'name' | 'region'>,
  scheduleTime: Date = new Date(),
): Promise<{ status: number; body: string }> {
  const headers = {
    'X-CloudScheduler-JobName': schedulerJobName(fn),
    'X-CloudScheduler-ScheduleTime': scheduleTime.toISOString(),
  };
  const post = (id: string) =>
    fetch(`${functionsUrl}/${projectId}/${fn.region}/${id}`, { method: 'POST', headers }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
    );
  const first = await post(fn.name);
  if (first.status !== 404) return first;
  const pattern = new RegExp(`${fn.region}-(${fn.name}-\\d+)\\b`, 'g');
  const ids = [...first.body.matchAll(pattern)].map((m) => m[1]!);
  const latest = ids.sort((a, b) => generation(b) - generation(a))[0];
  return latest ? post(latest) : first;
}

function generation(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

/**
 * The slot a cron job fired for: its latest occurrence at or before `at`. Croner never fires
 * early but may fire late (a busy event loop), so the slot is looked for up to a minute back;
 * later than that, the firing time itself is the best answer.
 */
export function slotOf(job: Pick<Cron, 'nextRun'>, at: Date): Date {
  let slot: Date | undefined;
  for (
    let next = job.nextRun(new Date(at.getTime() - 60_000));
    next && next.getTime() <= at.getTime();
    next = job.nextRun(next)
  ) {
    slot = next;
  }
  return slot ?? at;
}

/**
 * What drives the schedules. `cron`: the stack's clock, each function on its own cron
 * expression and time zone, as Cloud Scheduler does (`npm start`). `manual`: nothing fires on
 * its own, only on demand (the end-to-end tests: no cron may fire in the middle of a test and
 * change what it looks at, whatever the time of day the run happens to cross).
 */
export type ScheduleMode = 'cron' | 'manual';

export interface FireRecord {
  name: string;
  /** When it was fired. */
  at: string;
  /** The time the execution was for (`event.scheduleTime`): the cron slot, or the one asked for. */
  scheduleTime: string;
  status: number;
  trigger: 'cron' | 'manual';
}

export type Fire = (
  fn: ScheduledFunction,
  scheduleTime: Date,
) => Promise<{ status: number; body: string }>;

/** Fires the scheduled functions: by their cron (mode `cron`) and on demand (either mode). */
export class Scheduler {
  private readonly jobs = new Map<string, Cron>();
  readonly history: FireRecord[] = [];
  readonly mode: ScheduleMode;

  constructor(
    readonly functions: ScheduledFunction[],
    private readonly fire: Fire,
    private readonly log: (line: string) => void,
    options: { mode?: ScheduleMode } = {},
  ) {
    this.mode = options.mode ?? 'cron';
  }

  start(): void {
    if (this.mode === 'manual') return;
    for (const fn of this.functions) {
      const job = new Cron(fn.cron, { timezone: fn.timeZone, protect: true }, () => {
        void this.run(fn, 'cron', slotOf(job, new Date()));
      });
      this.jobs.set(fn.name, job);
    }
  }

  stop(): void {
    for (const job of this.jobs.values()) job.stop();
    this.jobs.clear();
  }

  /** Each function with its next cron run (null when schedules are manual or stopped). */
  nextRuns(): Array<ScheduledFunction & { nextRun: string | null }> {
    return this.functions.map((fn) => ({
      ...fn,
      nextRun: this.jobs.get(fn.name)?.nextRun()?.toISOString() ?? null,
    }));
  }

  /**
   * Fires one now. `at` is the time the execution is for, as if Cloud Scheduler had fired it
   * then (a handler that works by its slot sees that time); now by default, as a forced run.
   */
  async fireNow(name: string, options: { at?: Date } = {}): Promise<FireRecord> {
    const fn = this.functions.find((f) => f.name === name);
    if (!fn) throw new Error(`no scheduled function named "${name}"`);
    return this.run(fn, 'manual', options.at ?? new Date());
  }

  private async run(
    fn: ScheduledFunction,
    trigger: FireRecord['trigger'],
    scheduleTime: Date,
  ): Promise<FireRecord> {
    const at = new Date().toISOString();
    let status = 0;
    try {
      const result = await this.fire(fn, scheduleTime);
      status = result.status;
      if (status >= 300) this.log(`schedule ${fn.name}: ${status} ${result.body.slice(0, 200)}`);
    } catch (error) {
      this.log(`schedule ${fn.name}: ${(error as Error).message}`);
    }
    const record = { name: fn.name, at, scheduleTime: scheduleTime.toISOString(), status, trigger };
    this.history.push(record);
    if (this.history.length > 200) this.history.shift();
    return record;
  }
}
